//! Faults with a real OpenSSH `sshd` as the peer (issue 6): its
//! connection's processes killed in the middle of a download (the kernel
//! closes their socket, as for any crashed server), or stopped (SIGSTOP:
//! the kernel still takes the bytes, nothing answers them). Conch's client
//! (conch-tokio) must fail every waiting call promptly, deliver what had
//! arrived, and notice the stopped server through its keepalives. The
//! in-process versions (a proxy that cuts or freezes) are in each
//! adapter's `tests/faults.rs`; these check the same against real process
//! death.

use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conch_driver::testing::{
    io_is_connection_lost, io_is_keepalive_timeout, is_connection_lost, is_keepalive_timeout,
    keepalive_deadline, with_keepalive, ECHO_COMMAND, FAULT_NOTICE, OUTPUT_THEN_WAIT,
    OUTPUT_THEN_WAIT_LEN,
};
use conch_interop::{KeyPair, Sshd};
use conch_tokio::{connect, AuthMethods, Channel, ClientOptions, HostKeyPolicy, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest any step may take before the test fails instead of hanging.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

fn run(body: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(body);
}

async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("not done within {limit:?}: {what}"))
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    within(STEP_TIMEOUT, what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

fn public_of(pair: &KeyPair) -> conch_tokio::PublicKey {
    conch_tokio::PublicKey::from_openssh(&pair.public_line).expect("public key line")
}

fn options(sshd: &Sshd) -> ClientOptions {
    let mut options = ClientOptions::new(HostKeyPolicy::trust_keys(
        sshd.host_keys().iter().map(public_of),
    ));
    options.connect_timeout = Some(STEP_TIMEOUT);
    options.handshake_timeout = Some(STEP_TIMEOUT);
    options
}

async fn login(sshd: &Sshd, options: ClientOptions) -> Session {
    let key = conch_driver::load_private_key(&sshd.user_key().private_path, &mut |_| None)
        .expect("user key");
    let session = within(
        STEP_TIMEOUT,
        "connect",
        connect("127.0.0.1", sshd.port(), options),
    )
    .await
    .expect("connect");
    within(
        STEP_TIMEOUT,
        "authenticate",
        session.authenticate(&sshd.login_user(), AuthMethods::new().key(key)),
    )
    .await
    .expect("authenticate");
    session
}

/// The processes below sshd's listener: one connection's privilege
/// separation processes and the commands they run.
fn connection_processes(sshd: &Sshd) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesized name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![sshd.pid()];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn signal(pids: &[u32], name: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-s")
        .arg(name)
        .args(pids.iter().map(u32::to_string))
        .status();
}

/// Kills the connection's processes when dropped, so none stays stopped.
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        signal(&self.0, "KILL");
    }
}

async fn read_counting(channel: &Channel, progress: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = channel;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(n) => {
                progress.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
    }
}

#[test]
fn sshd_killed_mid_download_fails_every_pending_call_and_keeps_received_data() {
    let sshd = Sshd::start_default();
    run(async {
        let session = login(&sshd, options(&sshd)).await;
        let held = within(STEP_TIMEOUT, "exec", session.exec(OUTPUT_THEN_WAIT))
            .await
            .unwrap();
        wait_for("output arrives", || {
            held.buffered_len() == OUTPUT_THEN_WAIT_LEN
        })
        .await;
        let echo = Arc::new(
            within(STEP_TIMEOUT, "exec", session.exec(ECHO_COMMAND))
                .await
                .unwrap(),
        );
        let echoed = Arc::new(AtomicUsize::new(0));
        let reader = tokio::spawn({
            let (echo, echoed) = (echo.clone(), echoed.clone());
            async move { read_counting(&echo, &echoed).await }
        });
        let writer = tokio::spawn({
            let echo = echo.clone();
            async move {
                let chunk = vec![7u8; 16 * 1024];
                let mut writer = &*echo;
                loop {
                    if let Err(e) = writer.write(&chunk).await {
                        return e;
                    }
                }
            }
        });
        let status = tokio::spawn({
            let echo = echo.clone();
            async move { echo.exit_status().await }
        });
        wait_for("echo traffic", || {
            echoed.load(Ordering::Relaxed) > 256 * 1024
        })
        .await;

        let processes = KillOnDrop(connection_processes(&sshd));
        assert!(!processes.0.is_empty());
        signal(&processes.0, "KILL");
        let read_end = within(FAULT_NOTICE, "pending read fails", reader)
            .await
            .unwrap();
        let read_error = read_end.expect_err("a dead server must not read as a clean end");
        assert!(io_is_connection_lost(&read_error), "{read_error:?}");
        let write_error = within(FAULT_NOTICE, "pending write fails", writer)
            .await
            .unwrap();
        assert!(io_is_connection_lost(&write_error), "{write_error:?}");
        let status = within(FAULT_NOTICE, "pending exit status fails", status)
            .await
            .unwrap();
        assert!(
            matches!(&status, Err(e) if is_connection_lost(e)),
            "{status:?}"
        );
        // What had arrived is delivered in full, then the error.
        let received = AtomicUsize::new(0);
        let end = within(
            FAULT_NOTICE,
            "read held output",
            read_counting(&held, &received),
        )
        .await;
        assert_eq!(received.into_inner(), OUTPUT_THEN_WAIT_LEN);
        let end = end.expect_err("the held output must end with the error");
        assert!(io_is_connection_lost(&end), "{end:?}");
        let reason = session.disconnect_reason().expect("session ended");
        assert!(is_connection_lost(&reason), "{reason:?}");
    });
}

#[test]
fn keepalive_notices_a_stopped_sshd() {
    let sshd = Sshd::start_default();
    run(async {
        let session = login(&sshd, with_keepalive(options(&sshd))).await;
        let channel = Arc::new(
            within(STEP_TIMEOUT, "exec", session.exec(ECHO_COMMAND))
                .await
                .unwrap(),
        );
        let reader = tokio::spawn({
            let channel = channel.clone();
            async move { read_counting(&channel, &AtomicUsize::new(0)).await }
        });
        let processes = KillOnDrop(connection_processes(&sshd));
        assert!(!processes.0.is_empty());
        signal(&processes.0, "STOP");
        let stopped_at = Instant::now();
        let end = within(keepalive_deadline(), "keepalive notices", reader)
            .await
            .unwrap();
        let error = end.expect_err("a stopped server must fail the read");
        assert!(io_is_keepalive_timeout(&error), "{error:?}");
        let reason = session.disconnect_reason().expect("session ended");
        assert!(is_keepalive_timeout(&reason), "{reason:?}");
        assert!(stopped_at.elapsed() < keepalive_deadline());
    });
}
