//! OpenSSH's `ssh -tt` to `conchd` in a real terminal (tmux): the remote
//! command gets a pseudo-terminal with the client's TERM and size, follows
//! a resize, Ctrl-C interrupts the foreground job and the login shell
//! survives, and the exit status comes back. Also: `env` outside conchd's
//! AcceptEnv refused, and `conch -tt` to conchd.

mod common;

use common::Conchd;
use conch_interop::tmux::{command_line, Tmux};
use conch_interop::SshClient;

/// `ssh ... -tt 127.0.0.1` (a login shell) as a command line for tmux,
/// and the client whose known_hosts file it uses (keep it alive).
fn ssh_line(server: &Conchd) -> (SshClient, String) {
    let ssh = SshClient::new(server.port())
        .identity(&server.user_key)
        .trust_host_key(&server.host_key)
        .arg("-tt");
    let command = ssh.command("");
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let line = command_line(std::path::Path::new("ssh"), &args);
    (ssh, line)
}

#[test]
fn ssh_tt_gives_an_interactive_login_shell_a_real_terminal() {
    let server = Conchd::start(false);
    let (_ssh, line) = ssh_line(&server);
    let term = Tmux::start(&line, 90, 30, &[("TERM", "vt220")]);
    // Markers computed remotely, so the echo of what is typed never matches.
    term.line("tty | sed s/pts/PTS/; echo T=$TERM-$((40+2))");
    term.wait_for("/dev/PTS/");
    term.wait_for("T=vt220-42");

    let (rows, cols) = term.pane_size();
    term.line("echo size=$(stty size)=");
    term.wait_for(&format!("size={rows} {cols}="));
    term.resize(110, 35);
    let (rows, cols) = term.pane_size();
    assert_eq!(cols, 110);
    term.line("echo resized=$(stty size)=");
    term.wait_for(&format!("resized={rows} {cols}="));

    // Ctrl-C reaches the foreground job through the remote terminal's line
    // discipline; the shell goes on.
    term.line("sleep 100; echo not-interrupted-$((1+1))");
    std::thread::sleep(std::time::Duration::from_millis(500));
    term.keys(&["C-c"]);
    term.line("echo alive-$((6*7))");
    let screen = term.wait_for("alive-42");
    assert!(!screen.contains("not-interrupted-2"), "{screen}");

    term.line("exit 3");
    assert_eq!(term.exit_status(), 3, "{}", term.screen());
}

#[test]
fn a_pty_command_sees_the_clients_term_and_its_status_comes_back() {
    let server = Conchd::start(false);
    let (_ssh, line) = ssh_line(&server);
    let line = format!("{line} 'echo T=$TERM; tty; exit 6'");
    let term = Tmux::start(&line, 80, 24, &[("TERM", "xterm-256color")]);
    assert_eq!(term.exit_status(), 6, "{}", term.screen());
    let screen = term.screen();
    assert!(screen.contains("T=xterm-256color"), "{screen}");
    assert!(screen.contains("/dev/pts/"), "{screen}");
}

#[test]
fn ssh_env_outside_accept_env_is_refused_and_the_locale_accepted() {
    let server = Conchd::start(false);
    let out = SshClient::new(server.port())
        .identity(&server.user_key)
        .trust_host_key(&server.host_key)
        .option("SetEnv=LANG=C.UTF-8 LD_PRELOAD=/tmp/evil.so BASH_ENV=/tmp/evil")
        .run("echo \"[$LANG][$LD_PRELOAD][$BASH_ENV]\"");
    out.assert_success();
    assert_eq!(out.stdout_text(), "[C.UTF-8][][]\n");
    let log = server.process.log();
    assert!(log.contains("env \"LD_PRELOAD\" refused"), "{log}");
    assert!(log.contains("env \"BASH_ENV\" refused"), "{log}");
}

#[test]
fn conch_tt_to_conchd_gets_a_terminal_with_its_term() {
    let server = Conchd::start(false);
    let out = server
        .conch()
        .env("TERM", "vt100")
        .arg("-tt")
        .run("tty; echo T=$TERM; exit 4", conch_interop::Input::Null);
    assert_eq!(out.code(), Some(4), "{out}");
    let text = out.stdout_text();
    assert!(text.contains("/dev/pts/"), "{out}");
    assert!(text.contains("T=vt100\r\n"), "{out}");
}
