//! conchd with its default limits against abusive clients on loopback: a
//! flood of half-open connections from one address while a real `ssh`
//! from another logs in, garbage after the banner, and one client opening
//! sessions until refused and filling them all. Each checks that conchd's
//! log names the reason of every refusal. Every test is bounded in time and
//! count, and what it starts ends with it (the `ServerProcess` kills
//! conchd when dropped, which ends its children).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::Conchd;
use conch_interop::SshClient;

/// A TCP connection from `source` (any 127.0.0.0/8 address is this host).
fn connect_from(source: &str, port: u16) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let local: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&local.into())?;
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket.connect_timeout(&server.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

/// Waits until `what` shows in conchd's log (at most 10 s).
fn wait_for_log(server: &Conchd, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.process.log();
        if log.contains(what) || Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_hundred_half_open_connections_from_one_address_do_not_lock_out_another() {
    let server = Conchd::start(false);
    let port = server.port();
    // 200 connections from 127.0.0.2 that send their banner and then
    // nothing: they never finish the key exchange.
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut s = connect_from("127.0.0.2", port).expect("connect from 127.0.0.2");
        let _ = s.write_all(b"SSH-2.0-flood\r\n");
        held.push(s);
    }
    let log = wait_for_log(&server, "past PerSourceMaxStartups");
    assert!(
        log.contains("drop connection from 127.0.0.2:")
            && log.contains("past PerSourceMaxStartups 5"),
        "conchd's log names no refusal:\n{log}"
    );
    // A real ssh from 127.0.0.1 still logs in and runs a command.
    let started = Instant::now();
    let out = SshClient::new(port)
        .identity(&server.user_key)
        .trust_host_key(&server.host_key)
        .server_log(server.process.log_path())
        .timeout(Duration::from_secs(20))
        .run("echo still here");
    out.assert_success();
    assert_eq!(out.stdout_text(), "still here\n");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The flood's refused connections were closed by conchd: reading one
    // gives EOF (or a reset), not a banner.
    let refused = server
        .process
        .log()
        .matches("drop connection from 127.0.0.2:")
        .count();
    assert!(refused >= 190, "{refused} refused");
    drop(held);
}

#[test]
fn garbage_after_the_banner_ends_the_connection_with_a_logged_reason() {
    let server = Conchd::start(false);
    let mut s = connect_from("127.0.0.1", server.port()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut garbage = b"SSH-2.0-garbage\r\n".to_vec();
    // A packet length of 2^32-1, then noise.
    garbage.extend_from_slice(&[0xff; 64]);
    s.write_all(&garbage).unwrap();
    // conchd answers with its banner (and KEXINIT), then closes.
    let mut got = Vec::new();
    let started = Instant::now();
    let _ = s.read_to_end(&mut got);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "conchd kept the connection"
    );
    assert!(got.starts_with(b"SSH-2.0-"), "{got:?}");
    let log = wait_for_log(&server, "Disconnecting:");
    assert!(
        log.contains("127.0.0.1:")
            && log.contains("Disconnecting: ")
            && log.contains("reason 2 sent"),
        "conchd's log names no reason:\n{log}"
    );
}

/// conchd's resident memory, in bytes (Linux).
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

#[test]
fn one_client_opening_sessions_until_refused_and_filling_them_stays_within_the_budget() {
    use conch_tokio::{AuthMethods, ClientOptions, HostKeyPolicy};
    use tokio::io::AsyncWriteExt;

    let server = Conchd::start(false);
    let pid = server.process.pid();
    let before = rss_bytes(pid);
    let budget = conch_core::ChannelConfig::default().memory_budget as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (opened, refusal, written, channels, session) = runtime.block_on(async {
        let key =
            conch_openssh::load_private_key(&server.user_key.private_path, &mut |_| None).unwrap();
        let host = conch_core::PublicKey::from_openssh(&server.host_key.public_line).unwrap();
        let options = ClientOptions::new(HostKeyPolicy::trust_keys([host]));
        let session = tokio::time::timeout(
            Duration::from_secs(20),
            conch_tokio::connect("127.0.0.1", server.port(), options),
        )
        .await
        .expect("connect in time")
        .expect("connect");
        session
            .authenticate("user", AuthMethods::new().key(key))
            .await
            .expect("log in");
        // Sessions running a command that never reads, until conchd says no
        // (at most 200 tries).
        let mut channels = Vec::new();
        let mut refusal = None;
        for _ in 0..200 {
            match tokio::time::timeout(Duration::from_secs(10), session.exec("sleep 30")).await {
                Ok(Ok(channel)) => channels.push(channel),
                Ok(Err(e)) => {
                    refusal = Some(e.to_string());
                    break;
                }
                Err(_) => panic!("exec took over 10 s"),
            }
        }
        // 2 MiB into each at once; what conchd does not take within 5 s
        // stays with us.
        let chunk = vec![b'x'; 2 << 20];
        let writers: Vec<_> = channels
            .into_iter()
            .map(|mut channel| {
                let chunk = chunk.clone();
                tokio::spawn(async move {
                    let mut sent = 0usize;
                    let _ = tokio::time::timeout(Duration::from_secs(5), async {
                        for piece in chunk.chunks(64 * 1024) {
                            if channel.write_all(piece).await.is_err() {
                                break;
                            }
                            sent += piece.len();
                        }
                    })
                    .await;
                    (channel, sent)
                })
            })
            .collect();
        let mut written = 0;
        let mut opened = 0;
        let mut keep = Vec::new();
        for w in writers {
            let (channel, sent) = w.await.unwrap();
            written += sent;
            opened += 1;
            keep.push(channel);
        }
        (opened, refusal, written, keep, session)
    });
    // Measured while every channel is still open and full.
    let after = rss_bytes(pid);
    drop((channels, session));
    assert!(opened >= 50, "only {opened} sessions");
    let refusal = refusal.expect("conchd refused a session");
    assert!(refusal.contains("too many sessions"), "{refusal}");
    assert!(written as u64 > budget / 4, "only {written} bytes went out");
    let grown = after.saturating_sub(before);
    eprintln!(
        "conchd: {} MiB before, {} MiB with {opened} sessions and {written} bytes written",
        before >> 20,
        after >> 20
    );
    assert!(
        grown < budget + 24 * 1024 * 1024,
        "conchd grew by {} MiB for {written} bytes on {opened} sessions",
        grown >> 20
    );
    let log = wait_for_log(&server, "too many sessions");
    assert!(
        log.contains("refused channel open (session): too many sessions"),
        "{log}"
    );
    drop(runtime);
}
