//! `conch`'s forwarding against OpenSSH's sshd (RFC 4254 section 7,
//! OpenSSH PROTOCOL section 2.4): `-L` with 200 concurrent connections
//! byte-exact, `-D` with curl, `-R 0:` with the allocated port, `-R PORT`
//! (remote dynamic) with curl at sshd's listener, Unix-socket
//! forwards both ways, half-close from either end (over TCP and a Unix
//! socket), a stalled reader that
//! stalls only its own connection, `-W` refusals with ssh's messages, a
//! forward forbidden by sshd, and `-J` through two sshd.
//!
//! Every test bounds its waits and stops what it started (`ChildGuard`,
//! `Sshd` and the fixtures stop on drop).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use conch_interop::forwarding::{
    connect, many_echoes, round_trip, socks4a_connect, EchoServer, IO_TIMEOUT,
};
use conch_interop::net::wait_for_port;
use conch_interop::process::require_program;
use conch_interop::{
    free_port, run_bounded, workspace_bin, ChildGuard, Input, Sshd, SshdOptions, TestDir,
};

/// `conch` logging in to `sshd` with its key, trusting its host keys, no
/// config file, no agent, batch mode.
fn conch(sshd: &Sshd, args: &[&str]) -> Command {
    let mut c = Command::new(workspace_bin("conch-cli", "conch"));
    c.args(["-F", "none", "--no-agent", "-o", "BatchMode=yes"])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            sshd.known_hosts_file().display()
        ))
        .arg("-i")
        .arg(&sshd.user_key().private_path)
        .args(["-p", &sshd.port().to_string(), "-l", &sshd.login_user()])
        .args(args)
        .env_remove("SSH_AUTH_SOCK");
    c
}

/// Starts `conch -N ARGS` and waits until it is ready: `port` accepts, or
/// `ready` holds.
fn background(
    sshd: &Sshd,
    dir: &TestDir,
    args: &[&str],
    mut ready: impl FnMut(&str) -> bool,
) -> (ChildGuard, PathBuf) {
    let log = dir.join("conch.log");
    let mut full = vec!["-N"];
    full.extend_from_slice(args);
    full.push("127.0.0.1");
    let mut child = ChildGuard::spawn("conch", &mut conch(sshd, &full), &log);
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if ready(&text) {
            return (child, log);
        }
        if let Some(status) = child.exited() {
            panic!("conch exited ({status}): {text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "conch not ready: {text}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn port_ready(port: u16) -> impl FnMut(&str) -> bool {
    move |_| conch_interop::net::port_accepts(port)
}

#[test]
fn conch_l_carries_200_concurrent_connections_byte_exact() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-L");
    let echo = EchoServer::start();
    let port = free_port();
    let spec = format!("127.0.0.1:{port}:127.0.0.1:{}", echo.port());
    let (_conch, _) = background(&sshd, &dir, &["-L", &spec], port_ready(port));
    many_echoes(200, 64 * 1024, move || connect(port)).unwrap();
}

/// A one-request-at-a-time HTTP server (four requests), the target curl
/// names by host; its port.
fn http_server() -> u16 {
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut s in http.incoming().flatten().take(4) {
            let _ = s.set_read_timeout(Some(IO_TIMEOUT));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\nvia conch -D\r\n");
        }
    });
    http_port
}

/// `curl --socks5-hostname 127.0.0.1:PROXY http://localhost:HTTP/`: the
/// body, curl having succeeded.
fn curl_via_socks5(proxy: u16, http_port: u16) -> String {
    let out = run_bounded(
        Command::new("curl")
            .args(["-s", "--max-time", "15", "--socks5-hostname"])
            .arg(format!("127.0.0.1:{proxy}"))
            .arg(format!("http://localhost:{http_port}/")),
        Input::Null,
        Duration::from_secs(20),
    );
    out.assert_success();
    out.stdout_text()
}

#[test]
fn conch_d_serves_curl_socks5_hostname_and_socks4a() {
    require_program("curl", "curl");
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-D");
    let http_port = http_server();
    let port = free_port();
    let (_conch, _) = background(
        &sshd,
        &dir,
        &["-D", &format!("127.0.0.1:{port}")],
        port_ready(port),
    );
    assert_eq!(curl_via_socks5(port, http_port), "via conch -D\r\n");
    // SOCKS4a, by name too.
    let echo = EchoServer::start();
    let s = socks4a_connect(port, "localhost", echo.port())
        .unwrap()
        .expect("SOCKS4a CONNECT granted");
    assert_eq!(round_trip(s, b"4a".to_vec()).unwrap(), b"4a");
}

#[test]
fn conch_r_port_0_prints_the_allocated_port_and_forwards() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-R");
    let echo = EchoServer::start();
    let to = format!("127.0.0.1:{}", echo.port());
    let marker = format!("for remote forward to {to}");
    let (_conch, log) = background(&sshd, &dir, &["-R", &format!("0:{to}")], |t| {
        t.contains(&marker)
    });
    // ssh's words: "Allocated port N for remote forward to host:port".
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text.lines().find(|l| l.contains(&marker)).unwrap();
    let port: u16 = line
        .strip_prefix("Allocated port ")
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    wait_for_port(port, Duration::from_secs(10), || None).unwrap();
    many_echoes(20, 100_000, move || connect(port)).unwrap();
}

/// Remote dynamic forwarding (`-R PORT` with no target, OpenSSH 7.6):
/// sshd listens, conch is the SOCKS proxy for each connection, and curl's
/// request by host name reaches the target on conch's side.
#[test]
fn conch_r_without_a_target_is_a_socks_proxy_at_the_server() {
    require_program("curl", "curl");
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-R-dynamic");
    let http_port = http_server();
    let port = free_port();
    let (_conch, log) = background(&sshd, &dir, &["-R", &port.to_string()], port_ready(port));
    assert_eq!(curl_via_socks5(port, http_port), "via conch -D\r\n");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("not supported"), "{text}");
}

/// The IPv4 address a TCP socket listening on `port` is bound to, from
/// /proc/net/tcp (`ADDR:PORT` in hex, state 0A = LISTEN).
fn listening_address(port: u16) -> Option<std::net::Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (addr, p) = fields.get(1)?.split_once(':')?;
        if fields.get(3) != Some(&"0A") || u16::from_str_radix(p, 16).ok()? != port {
            return None;
        }
        // The kernel prints the address in host byte order.
        Some(u32::from_str_radix(addr, 16).ok()?.swap_bytes().into())
    })
}

/// ssh_config `GatewayPorts`: a `-L` listener with no bind address is on
/// loopback, or on every address with `GatewayPorts yes`.
#[test]
fn gateway_ports_decides_the_local_bind_address() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-gateway-ports");
    let echo = EchoServer::start();
    for (option, expected) in [
        ("GatewayPorts=no", std::net::Ipv4Addr::LOCALHOST),
        ("GatewayPorts=yes", std::net::Ipv4Addr::UNSPECIFIED),
    ] {
        let port = free_port();
        let spec = format!("{port}:127.0.0.1:{}", echo.port());
        let (_conch, _) = background(&sshd, &dir, &["-o", option, "-L", &spec], port_ready(port));
        assert_eq!(listening_address(port), Some(expected), "{option}");
        assert_eq!(
            round_trip(connect(port).unwrap(), b"gw".to_vec()).unwrap(),
            b"gw"
        );
    }
}

fn unix_round_trip(path: &Path, data: &[u8]) -> Vec<u8> {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(data).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    back
}

#[test]
fn unix_socket_forwards_both_ways() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-unix");
    let echo = EchoServer::start();
    let local = dir.join("local.sock");
    let remote = dir.join("remote.sock");
    let to = format!("127.0.0.1:{}", echo.port());
    let l = format!("{}:{to}", local.display());
    let r = format!("{}:{to}", remote.display());
    let (_conch, _) = background(&sshd, &dir, &["-L", &l, "-R", &r], |_| {
        local.exists() && remote.exists()
    });
    // -L: our socket, each connection a direct-tcpip channel to the echo.
    assert_eq!(unix_round_trip(&local, b"local socket"), b"local socket");
    // -R: sshd's socket, forwarded-streamlocal to us, then TCP to the echo.
    assert_eq!(unix_round_trip(&remote, b"remote socket"), b"remote socket");
}

/// A target that greets, shuts its write side at once, and counts what
/// it then reads until EOF (the largest count of its connections: the
/// readiness probe connects too).
fn greeter() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(AtomicUsize::new(usize::MAX));
    let counted = got.clone();
    thread::spawn(move || {
        for mut s in l.incoming().flatten().take(8) {
            let counted = counted.clone();
            thread::spawn(move || {
                let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                let _ = s.write_all(b"hello");
                let _ = s.shutdown(Shutdown::Write);
                let mut all = Vec::new();
                let _ = s.read_to_end(&mut all);
                if !all.is_empty() {
                    counted.store(all.len(), Ordering::SeqCst);
                }
            });
        }
    });
    (port, got)
}

/// The far end of a forward to [`greeter`]: the target's EOF must reach
/// us while we still send, and what we send after it, then our EOF, must
/// reach the target in full.
fn half_close_both_ways<S: Read + Write>(
    mut s: S,
    shutdown_write: impl FnOnce(&S),
    got: &AtomicUsize,
) {
    let mut greeting = Vec::new();
    s.read_to_end(&mut greeting)
        .expect("the target's EOF, passed on as ours");
    assert_eq!(greeting, b"hello");
    let data = vec![7u8; 300_000];
    s.write_all(&data).unwrap();
    shutdown_write(&s);
    let started = Instant::now();
    while got.load(Ordering::SeqCst) == usize::MAX && started.elapsed() < IO_TIMEOUT {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(got.load(Ordering::SeqCst), data.len());
}

#[test]
fn half_close_from_the_target_keeps_the_other_direction() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-half");
    let (target, got) = greeter();
    let port = free_port();
    let spec = format!("127.0.0.1:{port}:127.0.0.1:{target}");
    let (_conch, _) = background(&sshd, &dir, &["-L", &spec], port_ready(port));
    let s = connect(port).unwrap();
    half_close_both_ways(s, |s| s.shutdown(Shutdown::Write).unwrap(), &got);
}

#[test]
fn half_close_through_a_local_unix_socket() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-unix-half");
    let (target, got) = greeter();
    let local = dir.join("half.sock");
    let spec = format!("{}:127.0.0.1:{target}", local.display());
    let (_conch, _) = background(&sshd, &dir, &["-L", &spec], |_| local.exists());
    let s = UnixStream::connect(&local).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    half_close_both_ways(s, |s| s.shutdown(Shutdown::Write).unwrap(), &got);
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_stalled_reader_stalls_only_its_own_connection() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("fwd-stall");
    // A target that sends without end.
    let firehose = TcpListener::bind("127.0.0.1:0").unwrap();
    let fire_port = firehose.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut s, _)) = firehose.accept() {
            let chunk = vec![0x55u8; 64 * 1024];
            let _ = s.set_write_timeout(Some(Duration::from_secs(30)));
            while s.write_all(&chunk).is_ok() {}
        }
    });
    let echo = EchoServer::start();
    let (p_fire, p_echo) = (free_port(), free_port());
    let (conch, _) = background(
        &sshd,
        &dir,
        &[
            "-L",
            &format!("127.0.0.1:{p_fire}:127.0.0.1:{fire_port}"),
            "-L",
            &format!("127.0.0.1:{p_echo}:127.0.0.1:{}", echo.port()),
        ],
        |_| conch_interop::net::port_accepts(p_fire) && conch_interop::net::port_accepts(p_echo),
    );
    // Opened and never read.
    let _stalled = connect(p_fire).unwrap();
    thread::sleep(Duration::from_millis(500));
    let before = rss_kib(conch.pid());
    many_echoes(10, 200_000, move || connect(p_echo)).unwrap();
    thread::sleep(Duration::from_millis(500));
    let after = rss_kib(conch.pid());
    // The stalled channel's window (2 MiB) bounds what conch holds for it.
    assert!(
        after < before + 32 * 1024,
        "conch grew from {before} KiB to {after} KiB"
    );
}

#[test]
fn w_to_a_refused_target_prints_open_failed() {
    let sshd = Sshd::start_default();
    let closed = free_port();
    let out = run_bounded(
        &mut conch(&sshd, &["-W", &format!("127.0.0.1:{closed}"), "127.0.0.1"]),
        Input::Null,
        Duration::from_secs(20),
    );
    out.assert_code(255);
    let err = out.stderr_text();
    assert!(
        err.contains("channel 0: open failed: connect failed: Connection refused")
            && err.contains("stdio forwarding failed"),
        "{err}"
    );
}

#[test]
fn forwarding_forbidden_by_sshd_is_refused() {
    let sshd = Sshd::start(SshdOptions {
        extra_config: vec!["AllowTcpForwarding no".into()],
        ..SshdOptions::default()
    });
    let echo = EchoServer::start();
    let out = run_bounded(
        &mut conch(
            &sshd,
            &["-W", &format!("127.0.0.1:{}", echo.port()), "127.0.0.1"],
        ),
        Input::Null,
        Duration::from_secs(20),
    );
    out.assert_code(255);
    assert!(
        out.stderr_text()
            .contains("open failed: administratively prohibited"),
        "{}",
        out.stderr_text()
    );
    let port = free_port();
    let out = run_bounded(
        &mut conch(
            &sshd,
            &[
                "-N",
                "-o",
                "ExitOnForwardFailure=yes",
                "-R",
                &format!("{port}:127.0.0.1:{}", echo.port()),
                "127.0.0.1",
            ],
        ),
        Input::Null,
        Duration::from_secs(20),
    );
    out.assert_code(255);
    assert!(
        out.stderr_text().contains(&format!(
            "Error: remote port forwarding failed for listen port {port}"
        )),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn conch_j_through_two_sshd() {
    let jump1 = Sshd::start_default();
    let jump2 = Sshd::start_default();
    let target = Sshd::start_default();
    let dir = TestDir::new("fwd-J");
    let mut lines = Vec::new();
    for s in [&jump1, &jump2, &target] {
        lines.extend(s.known_hosts_lines());
    }
    let known = dir.write("known_hosts", lines.join("\n") + "\n");
    let user = target.login_user();
    let hops = format!(
        "{user}@127.0.0.1:{},{user}@127.0.0.1:{}",
        jump1.port(),
        jump2.port()
    );
    let mut c = Command::new(workspace_bin("conch-cli", "conch"));
    c.args(["-F", "none", "--no-agent", "-o", "BatchMode=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known.display()));
    for s in [&jump1, &jump2, &target] {
        c.arg("-i").arg(&s.user_key().private_path);
    }
    c.args(["-J", &hops, "-p", &target.port().to_string(), "-l", &user])
        .args(["127.0.0.1", "echo through two jumps"])
        .env_remove("SSH_AUTH_SOCK");
    let out = run_bounded(&mut c, Input::Null, Duration::from_secs(25));
    out.assert_success();
    assert_eq!(out.stdout_text(), "through two jumps\n");
    // The target saw a connection from the last jump host, i.e. loopback.
    target.assert_log_contains("Accepted publickey", Duration::from_secs(5));
}
