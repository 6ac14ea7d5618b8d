//! The Twisted Conch client how-to's examples (`conch-examples`), built as the programs a user
//! runs, against `conchd`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::Conchd;
use conch_interop::{run_bounded, Finished, Input};

/// The path of example `name` of `conch-examples`, built with this test's
/// profile and target dir (cargo hands only the tested package's own
/// binaries to its tests).
///
/// `cargo test` builds every example of the packages it tests, so under
/// `cargo test --workspace` the binary is there and newer than the sources:
/// it is used as is. Otherwise (e.g. `cargo test -p conch-cli` after an
/// edit) it is built with `cargo build`, which may resolve features
/// differently and so rebuild dependencies: slower, but never stale.
fn example_bin(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/<test>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join("examples").join(name);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    if is_fresh(&path, workspace) {
        return path;
    }
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("unexpected test path {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace)
        .args([
            "build",
            "--profile",
            profile,
            "-p",
            "conch-examples",
            "--example",
            name,
        ])
        .arg("--target-dir")
        .arg(profile_dir.parent().unwrap());
    run_bounded(&mut build, Input::Null, Duration::from_secs(20 * 60)).assert_success();
    assert!(path.is_file(), "cargo built no {}", path.display());
    path
}

/// Whether `binary` exists and is newer than every source it is built from.
fn is_fresh(binary: &Path, workspace: &Path) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return false;
    };
    let sources = ["examples", "adapter-tokio", "driver", "core", "Cargo.lock"];
    sources
        .iter()
        .all(|s| newest_in(&workspace.join(s)).is_some_and(|newest| newest <= built))
}

/// The newest modification time of the files under `path` (`None` if unreadable).
fn newest_in(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    let mut newest = meta.modified().ok()?;
    for entry in std::fs::read_dir(path).ok()? {
        let entry = entry.ok()?;
        if entry.file_name() == "target" {
            continue;
        }
        newest = newest.max(newest_in(&entry.path())?);
    }
    Some(newest)
}

/// Runs example `name` against `server` with the how-to's options.
fn run_example(name: &str, server: &Conchd, extra: &[&str]) -> Finished {
    let mut command = Command::new(example_bin(name));
    command
        .args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
        .args(["-u", &conch_cli::how_to::current_user()])
        .arg("-i")
        .arg(&server.user_key.private_path)
        .arg("-k")
        .arg(server.known_hosts())
        .arg("--no-agent")
        .args(extra)
        .env_remove("SSH_AUTH_SOCK");
    run_bounded(&mut command, Input::Null, Duration::from_secs(60))
}

#[test]
fn echoclient_ssh_prints_what_cat_sends_back() {
    let server = Conchd::start(false);
    let out = run_example("echoclient_ssh", &server, &[]);
    out.assert_success();
    assert_eq!(
        out.stdout_text(),
        "Server says: bif\nServer says: pow\nServer says: zot\n"
    );
    assert!(server.process.log().contains("exec \"/bin/cat\""));
}

#[test]
fn echoclient_shared_ssh_runs_fifty_commands_on_one_connection() {
    let server = Conchd::start(false);
    let out = run_example("echoclient_shared_ssh", &server, &[]);
    out.assert_success();
    let text = out.stdout_text();
    for i in 0..50 {
        assert!(
            text.contains(&format!("Got some data: {i}\nLost my connection\n")),
            "{i} missing:\n{out}"
        );
    }
    let log = server.process.log();
    // (The harness's readiness probe connects too, but never logs in.)
    // conchd's own line, with the key (the library logs its decision too).
    assert_eq!(
        log.matches("Accepted publickey for root: ").count(),
        1,
        "one connection:\n{log}"
    );
    assert_eq!(log.matches("exec \"/bin/echo ").count(), 50);
}

#[test]
fn lowlevel_walkthrough_checks_the_fingerprint_and_gets_its_line_back() {
    let server = Conchd::start(false);
    let fingerprint = server.host_key.fingerprint();
    for check in [vec!["--fingerprint", fingerprint.as_str()], vec![]] {
        // With the fingerprint, and without it (then from known_hosts).
        let out = run_example("lowlevel_walkthrough", &server, &check);
        out.assert_success();
        let text = out.stdout_text();
        assert!(
            text.contains(&format!("host key {fingerprint} verified")),
            "{out}"
        );
        assert!(
            text.contains(
                "We got this from \"cat\": This data will be echoed back to us by \"cat.\""
            ),
            "{out}"
        );
    }
    // A wrong fingerprint: refused before any credential is sent.
    let out = run_example(
        "lowlevel_walkthrough",
        &server,
        &[
            "--fingerprint",
            "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
    );
    assert_ne!(out.code(), Some(0), "{out}");
    assert!(out.stdout_text().contains("NOT trusted"), "{out}");
    assert!(!out.stdout_text().contains("authenticated"), "{out}");
}

#[test]
fn terminal_server_runs_its_own_program_on_an_ssh_terminal() {
    let password = "terminal-example-password";
    let server = conch_interop::ServerProcess::start("terminal_server", |port| {
        let mut command = Command::new(example_bin("terminal_server"));
        command.args(["--port", &port.to_string(), "--password", password]);
        command
    });
    let ssh = conch_interop::SshClient::new(server.port())
        .password(password)
        .strict_host_key_checking("no")
        .option("PreferredAuthentications=password")
        .arg("-tt");
    // Typed as on a raw terminal: CR ends a line, DEL erases.
    let out = ssh.run_with_input("", "hellx\x7fo\rquit\r");
    out.assert_success();
    let text = out.stdout_text();
    assert!(text.contains("5 characters, reversed: olleh\r\n"), "{out}");
    assert!(text.contains("Bye.\r\n"), "{out}");
    // Without a terminal the program says it needs one.
    let out = conch_interop::SshClient::new(server.port())
        .password(password)
        .strict_host_key_checking("no")
        .option("PreferredAuthentications=password")
        .arg("-T")
        .run("");
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr_text().contains("needs a terminal"), "{out}");
}

#[test]
fn server_limits_echoes_and_applies_its_limits() {
    let password = "limits-example-password";
    let server = conch_interop::ServerProcess::start("server_limits", |port| {
        let mut command = Command::new(example_bin("server_limits"));
        command.args(["--port", &port.to_string(), "--password", password]);
        command.args(["--max-auth-tries", "2", "--per-source", "1"]);
        command.args(["--max-sessions", "4", "--memory-budget", "8M"]);
        command
    });
    let ssh = || {
        conch_interop::SshClient::new(server.port())
            .strict_host_key_checking("no")
            .option("PreferredAuthentications=password")
    };
    // A session echoes its input.
    let out = ssh().password(password).run_with_input("cat", "hello\n");
    out.assert_success();
    assert_eq!(out.stdout_text(), "hello\n", "{out}");
    // The second failed password is the last (MaxAuthTries 2), though ssh
    // would try a third.
    let out = ssh()
        .password("wrong")
        .option("NumberOfPasswordPrompts=3")
        .run("true");
    assert_eq!(out.code(), Some(255), "{out}");
    assert!(
        out.stderr_text()
            .contains("too many authentication attempts"),
        "{out}"
    );
    // One unauthenticated connection from 127.0.0.1 is all it keeps
    // (PerSourceMaxStartups 1): hold one (it has the server's
    // identification line, so it was taken, once the failed login above
    // has been let go), and ssh from the same address is turned away.
    let held = hold_unauthenticated(server.port());
    let out = ssh().password(password).run("true");
    assert_eq!(out.code(), Some(255), "{out}");
    assert!(
        server.log().contains("past PerSourceMaxStartups 1"),
        "{}",
        server.log()
    );
    drop(held);
}

/// A connection to `port` that has read the server's identification line
/// and says nothing: an unauthenticated connection the server keeps.
/// Retried while the server still counts a connection that just ended
/// (it refuses by closing at once), for at most 10 s.
fn hold_unauthenticated(port: u16) -> std::net::TcpStream {
    use std::io::Read;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut first = [0u8; 8];
        if stream.read_exact(&mut first).is_ok() && first.starts_with(b"SSH-2.0-") {
            return stream;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server kept refusing a first unauthenticated connection"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
