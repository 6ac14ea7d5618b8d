//! OpenSSH's `ssh` against `conchd` on loopback: exec, stdin, stderr and
//! exit status, with keys made by `ssh-keygen`.

mod common;

use common::{Conchd, PASSWORD};
use conch_interop::{SshClient, TestDir};

fn ssh(server: &Conchd) -> SshClient {
    SshClient::new(server.port())
        .identity(&server.user_key)
        .trust_host_key(&server.host_key)
        .server_log(server.process.log_path())
}

#[test]
fn ssh_runs_a_command_with_its_exit_status() {
    let server = Conchd::start(false);
    let out = ssh(&server).run("echo hello from conchd; exit 5");
    out.assert_code(5);
    assert_eq!(out.stdout_text(), "hello from conchd\n");
    ssh(&server).run("true").assert_success();
}

#[test]
fn ssh_stdin_through_cat() {
    let server = Conchd::start(false);
    let input: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let out = ssh(&server).run_with_input("cat", input.clone());
    out.assert_success();
    assert!(
        out.stdout == input,
        "cat's output differs ({} bytes back)",
        out.stdout.len()
    );
}

#[test]
fn ssh_sees_stderr_apart() {
    let server = Conchd::start(false);
    let out = ssh(&server).run("echo out; echo err >&2; exit 2");
    out.assert_code(2);
    assert_eq!(out.stdout_text(), "out\n");
    assert_eq!(out.stderr_text(), "err\n");
}

#[test]
fn ssh_accept_new_then_known() {
    // The command line the brief names:
    // ssh -F none -o UserKnownHostsFile=... -o StrictHostKeyChecking=accept-new
    //     -o BatchMode=yes -i key -p PORT user@127.0.0.1 cmd
    let server = Conchd::start(false);
    let dir = TestDir::new("ssh-accept-new");
    let known_hosts = dir.join("known_hosts");
    let client = SshClient::new(server.port())
        .identity(&server.user_key)
        .known_hosts_file(&known_hosts)
        .strict_host_key_checking("accept-new")
        .server_log(server.process.log_path());
    client.run("echo first").assert_success();
    let out = client.strict_host_key_checking("yes").run("echo second");
    out.assert_success();
    assert_eq!(out.stdout_text(), "second\n");
}

#[test]
fn ssh_password_login() {
    let server = Conchd::start(true);
    let out = SshClient::new(server.port())
        .trust_host_key(&server.host_key)
        .password(PASSWORD)
        .option("PreferredAuthentications=password")
        .server_log(server.process.log_path())
        .run("echo by-password");
    out.assert_success();
    assert_eq!(out.stdout_text(), "by-password\n");
}
