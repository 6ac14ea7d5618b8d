//! `conch` against `conchd`, both as the built binaries, on loopback.

mod common;

use common::{openssh_finds, Conch, Conchd, PASSWORD};
use conch_interop::known_hosts::host_pattern;
use conch_interop::{free_port, KeyPair, KeyType, SshAgent, TestDir};

#[test]
fn exec_reports_output_and_exit_status() {
    let server = Conchd::start(false);
    let out = server.conch().run("echo hello; exit 7", "");
    out.assert_code(7);
    assert_eq!(out.stdout_text(), "hello\n");
    let out = server.conch().run("true", "");
    out.assert_success();
}

#[test]
fn command_words_are_joined_like_ssh() {
    let server = Conchd::start(false);
    // Like ssh: options may follow the host; the words after it are joined
    // with spaces and the remote shell splits them again.
    let out = server
        .conch()
        .run_words(&["-o", "BatchMode=yes", "printf", "%s,", "a", "b  c"], "");
    out.assert_success();
    assert_eq!(out.stdout_text(), "a,b,c,");
}

#[test]
fn stdin_goes_through_cat_and_its_end_is_eof() {
    let server = Conchd::start(false);
    // Many of conch's output batches (up to 256 KiB of received chunks,
    // each written with writev): a byte lost, repeated or moved between
    // chunks or batches would show.
    let input: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = server.conch().run("cat", input.clone());
    out.assert_success();
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "cat's output differs from the input");
    // -n: stdin is not read; the command sees EOF at once.
    let out = server.conch().arg("-n").run("wc -c", "ignored");
    out.assert_success();
    assert_eq!(out.stdout_text().trim(), "0");
}

#[test]
fn stderr_is_kept_apart() {
    let server = Conchd::start(false);
    let out = server
        .conch()
        .run("echo to-stdout; echo to-stderr >&2; exit 3", "");
    out.assert_code(3);
    assert_eq!(out.stdout_text(), "to-stdout\n");
    assert_eq!(out.stderr_text(), "to-stderr\n");
}

#[test]
fn a_signal_gives_128_plus_its_number() {
    let server = Conchd::start(false);
    server
        .conch()
        .run("kill -TERM $$", "")
        .assert_code(128 + 15);
    server.conch().run("kill -KILL $$", "").assert_code(128 + 9);
}

#[test]
fn refused_connection_is_255_with_openssh_wording() {
    let port = free_port();
    let out = Conch::new(port).run("true", "");
    out.assert_code(255);
    let expected = format!("connect to host 127.0.0.1 port {port}: Connection refused");
    assert!(out.stderr_text().contains(&expected), "{out}");
}

#[test]
fn changed_host_key_is_255_naming_file_and_line() {
    let server = Conchd::start(false);
    let dir = TestDir::new("changed");
    let other = KeyPair::generate(&dir, "other", KeyType::Ed25519, None);
    let known_hosts = dir.write(
        "known_hosts",
        format!(
            "# first line\n{}\n",
            other.known_hosts_line(&host_pattern(server.port()))
        ),
    );
    // accept-new never accepts a changed key.
    let out = Conch::new(server.port())
        .known_hosts(&known_hosts)
        .option("StrictHostKeyChecking=accept-new")
        .arg("-i")
        .arg(server.user_key.private_path.to_str().unwrap())
        .run("echo should-not-run", "");
    out.assert_code(255);
    let stderr = out.stderr_text();
    assert!(
        stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{out}"
    );
    assert!(
        stderr.contains(&format!(
            "Offending ED25519 key in {}:2",
            known_hosts.display()
        )),
        "{out}"
    );
    assert!(stderr.contains(&server.host_key.fingerprint()), "{out}");
    assert!(stderr.contains("Host key verification failed."), "{out}");
    assert!(out.stdout.is_empty());
    // The file is as it was.
    assert_eq!(
        std::fs::read_to_string(&known_hosts)
            .unwrap()
            .lines()
            .count(),
        2
    );
}

/// `StrictHostKeyChecking no` as ssh: a changed key is warned about and
/// the connection goes on, but without password or keyboard-interactive
/// authentication (a man in the middle would read them), and nothing is
/// saved.
#[test]
fn changed_host_key_under_no_goes_on_without_passwords() {
    let server = Conchd::start(true);
    let dir = TestDir::new("changed-no");
    let other = KeyPair::generate(&dir, "other", KeyType::Ed25519, None);
    let line = other.known_hosts_line(&host_pattern(server.port()));
    let known_hosts = dir.write("known_hosts", format!("{line}\n"));
    let out = Conch::new(server.port())
        .known_hosts(&known_hosts)
        .option("StrictHostKeyChecking=no")
        .arg("-i")
        .arg(server.user_key.private_path.to_str().unwrap())
        .run("echo with-key", "");
    out.assert_success();
    assert_eq!(out.stdout_text(), "with-key\n");
    let stderr = out.stderr_text();
    assert!(
        stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{out}"
    );
    assert!(
        stderr.contains("Password authentication is disabled to avoid man-in-the-middle attacks."),
        "{out}"
    );
    // The password is not sent: permission denied.
    let out = Conch::new(server.port())
        .known_hosts(&known_hosts)
        .option("StrictHostKeyChecking=no")
        .arg("--password-env")
        .arg("CONCH_TEST_PASSWORD")
        .env("CONCH_TEST_PASSWORD", PASSWORD)
        .run("echo with-password", "");
    out.assert_code(255);
    assert!(out.stderr_text().contains("Permission denied"), "{out}");
    assert!(!server.process.log().contains("Accepted password"));
    assert!(!server
        .process
        .log()
        .contains("Accepted keyboard-interactive"));
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        format!("{line}\n")
    );
}

#[test]
fn unknown_host_strict_or_batch_ask_is_refused_and_accept_new_saves_hashed() {
    let server = Conchd::start(false);
    let dir = TestDir::new("accept-new");
    let known_hosts = dir.join("sub/known_hosts");
    let key = server.user_key.private_path.to_str().unwrap().to_string();

    for strict in ["yes", "ask"] {
        let out = Conch::new(server.port())
            .known_hosts(&known_hosts)
            .option(&format!("StrictHostKeyChecking={strict}"))
            .arg("-i")
            .arg(&key)
            .run("true", "");
        out.assert_code(255);
        assert!(
            out.stderr_text().contains("Host key verification failed."),
            "{out}"
        );
        assert!(!known_hosts.exists(), "nothing saved for {strict}");
    }

    let out = Conch::new(server.port())
        .known_hosts(&known_hosts)
        .option("StrictHostKeyChecking=accept-new")
        .option("HashKnownHosts=yes")
        .arg("-i")
        .arg(&key)
        .run("echo first", "");
    out.assert_success();
    assert_eq!(out.stdout_text(), "first\n");
    let expected = format!(
        "Warning: Permanently added '{}' (ED25519) to the list of known hosts.",
        host_pattern(server.port())
    );
    assert!(out.stderr_text().contains(&expected), "{out}");
    let text = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        text.starts_with("|1|"),
        "saved hashed (HashKnownHosts): {text}"
    );
    let found = openssh_finds(&known_hosts, &host_pattern(server.port()));
    assert_eq!(
        found.len(),
        1,
        "ssh-keygen -F finds the saved entry: {text}"
    );
    assert!(found[0].contains(server.host_key.public_base64()));

    // Now known: strict checking lets it in, and nothing more is written.
    let out = Conch::new(server.port())
        .known_hosts(&known_hosts)
        .option("StrictHostKeyChecking=yes")
        .arg("-i")
        .arg(&key)
        .run("echo again", "");
    out.assert_success();
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), text);
}

#[test]
fn failed_authentication_is_255_with_the_methods() {
    let server = Conchd::start(false);
    let dir = TestDir::new("stranger");
    let stranger = KeyPair::generate(&dir, "stranger", KeyType::Ed25519, None);
    let out = Conch::new(server.port())
        .known_hosts(&server.known_hosts())
        .arg("-l")
        .arg("alice")
        .arg("-i")
        .arg(stranger.private_path.to_str().unwrap())
        .run("true", "");
    out.assert_code(255);
    assert!(
        out.stderr_text()
            .contains("alice@127.0.0.1: Permission denied (publickey)."),
        "{out}"
    );
}

#[test]
fn password_from_the_environment() {
    let server = Conchd::start(true);
    let ok = Conch::new(server.port())
        .known_hosts(&server.known_hosts())
        .arg("--password-env")
        .arg("CONCH_TEST_PASSWORD")
        .env("CONCH_TEST_PASSWORD", PASSWORD)
        .run("echo in", "");
    ok.assert_success();
    assert_eq!(ok.stdout_text(), "in\n");
    // As ssh's default PreferredAuthentications, keyboard-interactive
    // (answered with the password) comes before password.
    let log = server.process.log();
    assert!(
        log.contains("Accepted password for") || log.contains("Accepted keyboard-interactive for"),
        "{log}"
    );

    let wrong = Conch::new(server.port())
        .known_hosts(&server.known_hosts())
        .arg("--password-env")
        .arg("CONCH_TEST_PASSWORD")
        .env("CONCH_TEST_PASSWORD", "wrong")
        .run("echo in", "");
    wrong.assert_code(255);
    assert!(
        wrong
            .stderr_text()
            .contains("Permission denied (publickey,password,keyboard-interactive)."),
        "{wrong}"
    );
}

#[test]
fn keys_from_a_real_ssh_agent() {
    let server = Conchd::start(false);
    let agent = SshAgent::start();
    agent.add(&server.user_key);
    let (var, socket) = agent.env();
    let out = Conch::new(server.port())
        .known_hosts(&server.known_hosts())
        .env(var, socket.to_str().unwrap())
        .run("echo via-agent", "");
    // Conch::new passes --no-agent; run again without it.
    out.assert_code(255);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_conch"));
    command
        .args([
            "-F",
            "none",
            "-o",
            "BatchMode=yes",
            "-p",
            &server.port().to_string(),
        ])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            server.known_hosts().display()
        ))
        .env("HOME", "/nonexistent/conch-test-home")
        .env(var, socket)
        .args(["127.0.0.1", "echo via-agent"]);
    let out = conch_interop::run_bounded(
        &mut command,
        conch_interop::Input::Null,
        common::RUN_TIMEOUT,
    );
    out.assert_success();
    assert_eq!(out.stdout_text(), "via-agent\n");
    assert!(server.process.log().contains("Accepted publickey for"));

    // The same agent named by IdentityAgent, SSH_AUTH_SOCK unset; and
    // not used under IdentitiesOnly when no identity file holds its key.
    let agent_run = |extra: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_conch"));
        command
            .args(["-F", "none", "-o", "BatchMode=yes", "-p"])
            .arg(server.port().to_string())
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                server.known_hosts().display()
            ))
            .arg("-o")
            .arg(format!("IdentityAgent={}", socket.display()))
            .args(extra)
            .env("HOME", "/nonexistent/conch-test-home")
            .env_remove(var)
            .args(["127.0.0.1", "echo named-agent"]);
        conch_interop::run_bounded(
            &mut command,
            conch_interop::Input::Null,
            common::RUN_TIMEOUT,
        )
    };
    let out = agent_run(&[]);
    out.assert_success();
    assert_eq!(out.stdout_text(), "named-agent\n");
    agent_run(&["-o", "IdentitiesOnly=yes"]).assert_code(255);

    // An agent that is not there is no obstacle: the -i key still works.
    let out = server
        .conch()
        .env(var, "/nonexistent/agent.sock")
        .run("echo no-agent", "");
    out.assert_success();
}

#[test]
fn no_command_runs_a_shell_reading_stdin() {
    let server = Conchd::start(false);
    let out = server.conch().run("", "echo from-shell\nexit 4\n");
    out.assert_code(4);
    assert_eq!(out.stdout_text(), "from-shell\n");
}

#[test]
fn verbose_says_what_happens() {
    let server = Conchd::start(false);
    let out = server.conch().arg("-v").run("exit 0", "");
    out.assert_success();
    let err = out.stderr_text();
    assert!(
        err.contains(&format!(
            "debug1: Connecting to 127.0.0.1 port {}.",
            server.port()
        )),
        "{out}"
    );
    assert!(err.contains("debug1: Sending command: exit 0"), "{out}");
}

#[test]
fn a_closed_stdout_ends_an_endless_command() {
    // `conch 127.0.0.1 yes | head -1`: when head exits, conch must not wait
    // forever for a command that never ends.
    let server = Conchd::start(false);
    let conch = env!("CARGO_BIN_EXE_conch");
    let line = format!(
        "'{conch}' -F none -o BatchMode=yes --no-agent -n -p {} -o UserKnownHostsFile='{}' -i '{}' 127.0.0.1 yes | head -1",
        server.port(),
        server.known_hosts().display(),
        server.user_key.private_path.display()
    );
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", &line])
        .env("HOME", "/nonexistent/conch-test-home");
    let out = conch_interop::run_bounded(
        &mut command,
        conch_interop::Input::Null,
        common::RUN_TIMEOUT,
    );
    out.assert_success();
    assert_eq!(out.stdout_text(), "y\n");
}

/// ssh_config options given with `-o`: `RemoteCommand` runs when no command
/// is given, `SetEnv` and `SendEnv` reach the command's environment, and
/// an option whose feature conch lacks is named as not supported
/// (`Compression yes` no longer is).
#[test]
fn remote_command_environment_and_unsupported_options() {
    // conchd accepts only LANG and LC_* unless told (sshd's AcceptEnv).
    let server = Conchd::start_args(&["--accept-env", "CONCH_*"]);
    let out = server
        .conch()
        .option("RemoteCommand=echo \"[$CONCH_SET] [$CONCH_SENT] [$CONCH_NOT_SENT]\"")
        .option("SetEnv=CONCH_SET=fromconfig")
        .option("SendEnv=CONCH_SEN*")
        .option("Compression=yes")
        .option("UpdateHostKeys=yes")
        .env("CONCH_SENT", "local")
        .env("CONCH_NOT_SENT", "hidden")
        .run("", "");
    out.assert_success();
    assert_eq!(out.stdout_text(), "[fromconfig] [local] []\n");
    assert!(
        out.stderr_text()
            .contains("UpdateHostKeys true: not supported by conch; ignored"),
        "{out}"
    );
    assert!(!out.stderr_text().contains("Compression"), "{out}");
}

/// `conch -C` against conchd (which allows delayed compression by
/// default, as sshd): zlib@openssh.com both ways, and a large compressible
/// output arrives intact; without -C, none.
#[test]
fn capital_c_compresses_with_zlib_at_openssh_com() {
    let server = Conchd::start(false);
    let out = server.conch().arg("-C").arg("-v").run("exit 0", "");
    out.assert_success();
    let err = out.stderr_text();
    for dir in ["server->client", "client->server"] {
        assert!(
            err.contains(&format!("{dir} cipher:"))
                && err.contains("compression: zlib@openssh.com"),
            "{out}"
        );
    }
    let big = server
        .conch()
        .arg("-C")
        .run("yes conch | head -c 3000000", "");
    big.assert_success();
    assert_eq!(big.stdout.len(), 3_000_000);
    assert!(big.stdout.chunks(6).all(|c| c == &b"conch\n"[..c.len()]));
    let plain = server.conch().arg("-v").run("exit 0", "");
    plain.assert_success();
    assert!(plain.stderr_text().contains("compression: none"), "{plain}");
    assert!(!plain.stderr_text().contains("zlib"), "{plain}");
}
