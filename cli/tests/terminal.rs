//! `conch` with a terminal: the host key question, a key's passphrase and
//! a password asked on `/dev/tty`, answered through a pseudo-terminal made
//! by `script` (util-linux), which feeds our input to it.

mod common;

use std::process::Command;

use common::{openssh_finds, Conchd, PASSWORD, RUN_TIMEOUT};
use conch_interop::known_hosts::host_pattern;
use conch_interop::process::require_program;
use conch_interop::{run_bounded, Finished, KeyPair, KeyType, TestDir};

/// Runs `conch ARGS` on a pseudo-terminal, typing `typed`.
fn on_terminal(args: &[String], typed: &str) -> Finished {
    require_program("script", "bsdutils");
    let conch = env!("CARGO_BIN_EXE_conch");
    let mut line = shell_quote(conch);
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    let mut command = Command::new("script");
    command
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("HOME", "/nonexistent/conch-test-home")
        .env_remove("SSH_AUTH_SOCK");
    run_bounded(&mut command, typed.into(), RUN_TIMEOUT)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn base_args(server: &Conchd, known_hosts: &std::path::Path) -> Vec<String> {
    vec![
        "-F".into(),
        "none".into(),
        "--no-agent".into(),
        "-n".into(),
        "-p".into(),
        server.port().to_string(),
        "-o".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
    ]
}

#[test]
fn an_unknown_host_is_asked_about_on_the_terminal() {
    let server = Conchd::start(false);
    let dir = TestDir::new("tty-ask");
    let known_hosts = dir.join("known_hosts");
    let mut args = base_args(&server, &known_hosts);
    args.extend([
        "-i".into(),
        server.user_key.private_path.display().to_string(),
        "127.0.0.1".into(),
        "echo welcome".into(),
    ]);

    // "no": refused, nothing saved.
    let out = on_terminal(&args, "no\n");
    let text = out.stdout_text();
    assert!(text.contains("can't be established."), "{out}");
    assert!(
        text.contains(&format!(
            "ED25519 key fingerprint is {}.",
            server.host_key.fingerprint()
        )),
        "{out}"
    );
    assert!(text.contains("Host key verification failed."), "{out}");
    assert!(!text.contains("welcome"), "{out}");
    assert!(!known_hosts.exists());

    // Something else, then "yes": asked again, then saved and run.
    let out = on_terminal(&args, "maybe\nyes\n");
    out.assert_success();
    let text = out.stdout_text();
    assert!(
        text.contains("Please type 'yes', 'no' or the fingerprint: "),
        "{out}"
    );
    assert!(text.contains("Permanently added"), "{out}");
    assert!(text.contains("welcome"), "{out}");
    assert_eq!(
        openssh_finds(&known_hosts, &host_pattern(server.port())).len(),
        1
    );

    // Known now: no question.
    let out = on_terminal(&args, "");
    out.assert_success();
    assert!(!out.stdout_text().contains("can't be established"), "{out}");
}

#[test]
fn an_encrypted_key_asks_for_its_passphrase() {
    let dir = TestDir::new("tty-passphrase");
    let key = KeyPair::generate(&dir, "enc", KeyType::Ed25519, Some("pass phrase"));
    let server = Conchd::start_with(false, &[&key.public_line]);
    let mut args = base_args(&server, &server.known_hosts());
    args.extend([
        "-i".into(),
        key.private_path.display().to_string(),
        "127.0.0.1".into(),
        "echo decrypted-ok".into(),
    ]);
    let out = on_terminal(&args, "pass phrase\n");
    out.assert_success();
    let text = out.stdout_text();
    assert!(
        text.contains(&format!(
            "Enter passphrase for key '{}':",
            key.private_path.display()
        )),
        "{out}"
    );
    assert!(text.contains("decrypted-ok"), "{out}");

    // Wrong three times: the key cannot be used, and nothing else is left.
    let out = on_terminal(&args, "a\nb\nc\n");
    out.assert_code(255);
    let text = out.stdout_text();
    assert_eq!(text.matches("Enter passphrase for key").count(), 3, "{out}");
    assert!(text.contains("incorrect passphrase"), "{out}");
    assert!(text.contains("Permission denied"), "{out}");
}

#[test]
fn a_passphrase_is_asked_only_for_a_key_the_server_accepts() {
    // As ssh: the encrypted key's .pub is offered first; the server does
    // not take it, so its passphrase is never asked; the next key works.
    let server = Conchd::start(false);
    let dir = TestDir::new("tty-passphrase-unasked");
    let key = KeyPair::generate(&dir, "enc", KeyType::Ed25519, Some("pass phrase"));
    let mut args = base_args(&server, &server.known_hosts());
    args.extend([
        "-i".into(),
        key.private_path.display().to_string(),
        "-i".into(),
        server.user_key.private_path.display().to_string(),
        "127.0.0.1".into(),
        "echo second-key".into(),
    ]);
    let out = on_terminal(&args, "");
    out.assert_success();
    let text = out.stdout_text();
    assert!(text.contains("second-key"), "{out}");
    assert!(!text.contains("Enter passphrase"), "{out}");
}

#[test]
fn the_password_is_asked_on_the_terminal() {
    let server = Conchd::start(true);
    let mut args = base_args(&server, &server.known_hosts());
    args.extend(["127.0.0.1".into(), "echo by-password".into()]);
    let out = on_terminal(&args, &format!("{PASSWORD}\n"));
    out.assert_success();
    assert!(out.stdout_text().contains("Password: "), "{out}");
    assert!(out.stdout_text().contains("by-password"), "{out}");

    // BatchMode: never asked, refused.
    let mut args = base_args(&server, &server.known_hosts());
    args.extend([
        "-o".into(),
        "BatchMode=yes".into(),
        "127.0.0.1".into(),
        "true".into(),
    ]);
    let out = on_terminal(&args, &format!("{PASSWORD}\n"));
    assert!(!out.stdout_text().contains("Password: "), "{out}");
    assert!(out.stdout_text().contains("Permission denied"), "{out}");
}
