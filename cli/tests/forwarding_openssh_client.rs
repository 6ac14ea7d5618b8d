//! OpenSSH's `ssh` forwarding through `conchd` (RFC 4254 section 7):
//! `-W`, `-L`, `-R` and `-D` carry data byte-exact with half-close, a
//! refused target and a forbidding policy give ssh's own "open failed"
//! messages.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Conchd;
use conch_interop::forwarding::{connect, many_echoes, round_trip, socks5_connect, EchoServer};
use conch_interop::net::wait_for_port;
use conch_interop::{free_port, ChildGuard, SshClient};

fn ssh(server: &Conchd) -> SshClient {
    SshClient::new(server.port())
        .identity(&server.user_key)
        .trust_host_key(&server.host_key)
        .server_log(server.process.log_path())
        .timeout(Duration::from_secs(20))
}

/// Starts `ssh -N` with `args` in the background and waits until `port`
/// (its forward's listening side) accepts.
fn background_ssh(server: &Conchd, args: &[&str], port: u16, log: &Path) -> ChildGuard {
    let mut client = ssh(server).arg("-N");
    for a in args {
        client = client.arg(a);
    }
    let mut child = ChildGuard::spawn("ssh", &mut client.command(""), log);
    wait_for_port(port, Duration::from_secs(10), || {
        child.exited().map(|s| {
            format!(
                "ssh exited ({s}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
    })
    .unwrap();
    child
}

#[test]
fn ssh_w_through_conchd_echoes_and_half_closes() {
    let server = Conchd::start(false);
    let echo = EchoServer::start();
    let input: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    // -W: stdin and stdout are the direct-tcpip channel; the echo server
    // answers our EOF (stdin's end) with its own after echoing all.
    let out = ssh(&server)
        .arg("-W")
        .arg(&format!("127.0.0.1:{}", echo.port()))
        .run_with_input("", input.clone());
    out.assert_success();
    assert!(out.stdout == input, "{} bytes back", out.stdout.len());
}

#[test]
fn ssh_l_through_conchd_carries_many_connections() {
    let server = Conchd::start(false);
    let echo = EchoServer::start();
    let port = free_port();
    let log = server.dir.join("ssh-L.log");
    let _ssh = background_ssh(
        &server,
        &["-L", &format!("127.0.0.1:{port}:127.0.0.1:{}", echo.port())],
        port,
        &log,
    );
    many_echoes(50, 20_000, move || connect(port)).unwrap();
}

#[test]
fn ssh_r_through_conchd_reaches_the_clients_target() {
    let server = Conchd::start(false);
    let echo = EchoServer::start();
    let port = free_port();
    let log = server.dir.join("ssh-R.log");
    // conchd listens (on loopback: GatewayPorts no) and hands connections
    // to ssh, which connects them to the echo server.
    let _ssh = background_ssh(
        &server,
        &["-R", &format!("{port}:127.0.0.1:{}", echo.port())],
        port,
        &log,
    );
    many_echoes(20, 50_000, move || connect(port)).unwrap();
}

#[test]
fn ssh_d_through_conchd_connects_by_name() {
    let server = Conchd::start(false);
    let echo = EchoServer::start();
    let port = free_port();
    let log = server.dir.join("ssh-D.log");
    let _ssh = background_ssh(&server, &["-D", &format!("127.0.0.1:{port}")], port, &log);
    let stream = socks5_connect(port, "localhost", echo.port())
        .unwrap()
        .expect("SOCKS5 CONNECT granted");
    let back = round_trip(stream, b"through the SOCKS proxy".to_vec()).unwrap();
    assert_eq!(back, b"through the SOCKS proxy");
}

#[test]
fn a_refused_target_gives_sshs_open_failed_message() {
    let server = Conchd::start(false);
    let closed = free_port();
    // ssh logs open failures at INFO.
    let out = ssh(&server)
        .option("LogLevel=INFO")
        .arg("-W")
        .arg(&format!("127.0.0.1:{closed}"))
        .run("");
    out.assert_code(255);
    let err = out.stderr_text();
    assert!(
        err.contains("open failed: connect failed: Connection refused"),
        "{err}"
    );
}

#[test]
fn forwarding_forbidden_by_conchd_is_refused() {
    let server = Conchd::start_args(&["--no-forwarding"]);
    let echo = EchoServer::start();
    let out = ssh(&server)
        .option("LogLevel=INFO")
        .arg("-W")
        .arg(&format!("127.0.0.1:{}", echo.port()))
        .run("");
    out.assert_code(255);
    let err = out.stderr_text();
    assert!(
        err.contains("open failed: administratively prohibited: open failed"),
        "{err}"
    );
    // A remote forward is refused too: with ExitOnForwardFailure ssh says so.
    let port = free_port();
    let out = ssh(&server)
        .option("ExitOnForwardFailure=yes")
        .arg("-N")
        .arg("-R")
        .arg(&format!("{port}:127.0.0.1:{}", echo.port()))
        .run("");
    out.assert_code(255);
    assert!(
        out.stderr_text().contains(&format!(
            "remote port forwarding failed for listen port {port}"
        )),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn ssh_j_with_conchd_as_the_jump_host() {
    let jump = Conchd::start(false);
    let target = conch_interop::Sshd::start_default();
    let dir = conch_interop::TestDir::new("ssh-J-conchd");
    let mut known = vec![jump
        .host_key
        .known_hosts_line(&conch_interop::known_hosts::host_pattern(jump.port()))];
    known.extend(target.known_hosts_lines());
    let known = dir.write("known_hosts", known.join("\n") + "\n");
    // The jump is ssh's own `ssh -W` child reading the same file, so
    // everything it needs is in the config.
    let config = dir.write(
        "config",
        format!(
            "Host jump\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}\n\
             Host target\n  HostName 127.0.0.1\n  Port {}\n  ProxyJump jump\n  IdentityFile {}\n\
             Host *\n  User {}\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n\
             \x20 StrictHostKeyChecking yes\n  BatchMode yes\n  IdentitiesOnly yes\n\
             \x20 IdentityAgent none\n  CheckHostIP no\n  UpdateHostKeys no\n  LogLevel ERROR\n",
            jump.port(),
            jump.user_key.private_path.display(),
            target.port(),
            target.user_key().private_path.display(),
            target.login_user(),
            known.display(),
        ),
    );
    let out = conch_interop::run_bounded(
        std::process::Command::new("ssh")
            .arg("-F")
            .arg(&config)
            .args(["target", "echo through conchd"])
            .env_remove("SSH_AUTH_SOCK"),
        conch_interop::Input::Null,
        Duration::from_secs(25),
    );
    out.assert_success();
    assert_eq!(out.stdout_text(), "through conchd\n");
}

/// A Unix-socket echo server at `path` for a few connections.
fn unix_echo(path: &Path) {
    let l = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten().take(4) {
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
                let _ = s.shutdown(std::net::Shutdown::Write);
            });
        }
    });
}

fn unix_round_trip(path: &Path, data: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(data).unwrap();
    // Not half-closed: ssh fails reading a Unix socket whose peer shut
    // its write side ("read failed ... Broken pipe") and drops the data.
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back).unwrap();
    back
}

#[test]
fn ssh_unix_socket_forwards_through_conchd_both_ways() {
    let server = Conchd::start(false);
    let echo = EchoServer::start();
    let dir = conch_interop::TestDir::new("ssh-unix-conchd");
    // -L socket:socket: a direct-streamlocal channel conchd connects.
    let target = dir.join("target.sock");
    unix_echo(&target);
    let local = dir.join("local.sock");
    // -R socket:host:port: conchd listens on a Unix socket.
    let remote = dir.join("remote.sock");
    let log = dir.join("ssh.log");
    let mut client = ssh(&server).arg("-N");
    for a in [
        "-L".to_string(),
        format!("{}:{}", local.display(), target.display()),
        "-R".to_string(),
        format!("{}:127.0.0.1:{}", remote.display(), echo.port()),
    ] {
        client = client.arg(&a);
    }
    let mut child = ChildGuard::spawn("ssh", &mut client.command(""), &log);
    let started = std::time::Instant::now();
    while !(local.exists() && remote.exists()) {
        assert!(child.exited().is_none(), "ssh exited");
        assert!(started.elapsed() < Duration::from_secs(10), "no sockets");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(unix_round_trip(&local, b"to a socket"), b"to a socket");
    assert_eq!(unix_round_trip(&remote, b"from a socket"), b"from a socket");
}
