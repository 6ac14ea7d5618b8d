//! `conch`'s forwarding against `conchd` (both ends Conch): `-W`, `-R` on
//! port 0 with the allocated port printed, a local listener that cannot
//! bind with `ExitOnForwardFailure`, and conchd's `--permit-open`.

mod common;

use std::time::{Duration, Instant};

use common::Conchd;
use conch_interop::forwarding::{connect, many_echoes, EchoServer};
use conch_interop::TestDir;

#[test]
fn conch_w_through_conchd() {
    let server = Conchd::start(false);
    let echo = EchoServer::start();
    let input: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let out = server.conch().run_words(
        &["-W", &format!("127.0.0.1:{}", echo.port())],
        input.clone(),
    );
    out.assert_success();
    assert!(out.stdout == input, "{} bytes back", out.stdout.len());
}

#[test]
fn conch_r_port_0_through_conchd() {
    let server = Conchd::start(false);
    let echo = EchoServer::start();
    let dir = TestDir::new("conch-R-conchd");
    let log = dir.join("conch.log");
    let to = format!("127.0.0.1:{}", echo.port());
    let mut child = server
        .conch()
        .spawn(&["-N", "-R", &format!("0:{to}")], &log);
    let marker = format!("for remote forward to {to}");
    let started = Instant::now();
    let port: u16 = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(&marker)) {
            break line
                .strip_prefix("Allocated port ")
                .and_then(|r| r.split(' ').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{line}"));
        }
        assert!(child.exited().is_none(), "conch exited: {text}");
        assert!(started.elapsed() < Duration::from_secs(15), "{text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    many_echoes(20, 30_000, move || connect(port)).unwrap();
}

#[test]
fn a_local_port_in_use_is_fatal_with_exit_on_forward_failure() {
    let server = Conchd::start(false);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = server.conch().option("ExitOnForwardFailure=yes").run_words(
        &["-L", &format!("127.0.0.1:{port}:127.0.0.1:9"), "true"],
        "",
    );
    out.assert_code(255);
    let err = out.stderr_text();
    assert!(
        err.contains("Address already in use")
            && err.contains("Could not request local forwarding."),
        "{err}"
    );
    // Without it, a warning, and the command still runs.
    let out = server.conch().run_words(
        &["-L", &format!("127.0.0.1:{port}:127.0.0.1:9"), "echo ran"],
        "",
    );
    out.assert_success();
    assert_eq!(out.stdout_text(), "ran\n");
}

#[test]
fn conchd_permit_open_restricts_targets() {
    let echo = EchoServer::start();
    let allowed = format!("127.0.0.1:{}", echo.port());
    let server = Conchd::start_args(&["--permit-open", &allowed]);
    let out = server.conch().run_words(&["-W", &allowed], "ok");
    out.assert_success();
    assert_eq!(out.stdout, b"ok");
    let other = EchoServer::start();
    let out = server
        .conch()
        .run_words(&["-W", &format!("127.0.0.1:{}", other.port())], "no");
    out.assert_code(255);
    assert!(
        out.stderr_text()
            .contains("channel 0: open failed: administratively prohibited: open failed"),
        "{}",
        out.stderr_text()
    );
}
