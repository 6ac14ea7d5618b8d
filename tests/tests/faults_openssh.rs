//! Faults with a real OpenSSH `sshd` as the peer (issue 6): its
//! connection's processes killed in the middle of a download (the kernel
//! closes their socket, as for any crashed server), or stopped (SIGSTOP:
//! the kernel still takes the bytes, nothing answers them). Conch's client
//! (conch-tokio) must fail every waiting call promptly, deliver what had
//! arrived, and notice the stopped server through its keepalives. The
//! in-process versions (a proxy that cuts or freezes) are the scenarios of
//! `conch_driver::testing::faults`, which each adapter's `tests/faults.rs`
//! runs; these check the same against real process death, with the same
//! pieces and conch-tokio as the same `Tokio` adapter.

mod common;
use common::client::public_of;

#[path = "../../adapter-tokio/tests/common/mod.rs"]
mod tokio_adapter;

use std::future::Future;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use conch_driver::testing::adapter::read_until_end;
use conch_driver::testing::faults::{assert_held_output_then_lost, held_output, EchoInFlight};
use conch_driver::testing::{
    io_is_keepalive_timeout, is_connection_lost, is_keepalive_timeout, keepalive_deadline,
    with_keepalive, Adapter, ECHO_COMMAND, STEP_TIMEOUT,
};
use conch_interop::Sshd;
use conch_tokio::{connect, AuthMethods, ClientOptions, HostKeyPolicy, Session};
use tokio_adapter::Tokio;

fn run(body: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(body);
}

fn options(sshd: &Sshd) -> ClientOptions {
    let mut options = ClientOptions::new(HostKeyPolicy::trust_keys(
        sshd.host_keys().iter().map(public_of),
    ));
    options.connect_timeout = Some(STEP_TIMEOUT);
    options.config_mut().transport.handshake_timeout = Some(STEP_TIMEOUT);
    options
}

async fn login(sshd: &Sshd, options: ClientOptions) -> Session {
    let key = conch_tokio::load_private_key(&sshd.user_key().private_path, &mut |_| None)
        .expect("user key");
    let session = Tokio::step("connect", connect("127.0.0.1", sshd.port(), options))
        .await
        .expect("connect");
    Tokio::step(
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

#[test]
fn sshd_killed_mid_download_fails_every_pending_call_and_keeps_received_data() {
    let sshd = Sshd::start_default();
    run(async {
        let session = login(&sshd, options(&sshd)).await;
        let held = held_output::<Tokio>(&session).await;
        let echo = EchoInFlight::start::<Tokio>(&session).await;

        let processes = KillOnDrop(connection_processes(&sshd));
        assert!(!processes.0.is_empty());
        signal(&processes.0, "KILL");
        echo.assert_connection_lost::<Tokio>().await;
        // What had arrived is delivered in full, then the error.
        assert_held_output_then_lost::<Tokio>(&held).await;
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
            Tokio::step("exec", session.exec(ECHO_COMMAND))
                .await
                .unwrap(),
        );
        let reader = Tokio::spawn(async move { read_until_end::<Tokio>(&channel).await });
        let processes = KillOnDrop(connection_processes(&sshd));
        assert!(!processes.0.is_empty());
        signal(&processes.0, "STOP");
        let stopped_at = Instant::now();
        let (_, end) = Tokio::within(keepalive_deadline(), "keepalive notices", reader).await;
        let error = end.expect_err("a stopped server must fail the read");
        assert!(io_is_keepalive_timeout(&error), "{error:?}");
        let reason = session.disconnect_reason().expect("session ended");
        assert!(is_keepalive_timeout(&reason), "{reason:?}");
        assert!(stopped_at.elapsed() < keepalive_deadline());
    });
}
