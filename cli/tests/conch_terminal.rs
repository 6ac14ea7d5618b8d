//! `conch -t` to OpenSSH's sshd in a real terminal (tmux): the remote shell
//! gets a pseudo-terminal with our TERM and size, follows a resize, Ctrl-C
//! interrupts the foreground job, the exit status comes back, the escape
//! sequences work, and the local terminal's settings are the same after
//! the session as before, however it ended (exit, `~.`, the server gone).

use std::path::Path;

use conch_interop::tmux::{command_line, shell_quote, Tmux};
use conch_interop::{Sshd, TestDir};

/// A tmux window running `conch ARGS 127.0.0.1` between two `stty -g`
/// snapshots (every setting but the size, which a test may change) of its terminal (files `before` and `after` in `dir`); the
/// pane's `[exited N]` is conch's status.
fn conch_in_terminal(sshd: &Sshd, dir: &TestDir, args: &[&str]) -> Tmux {
    let known_hosts = sshd.known_hosts_file();
    let key = sshd.user_key().private_path.display().to_string();
    let port = sshd.port().to_string();
    let user = sshd.login_user();
    let known = format!("UserKnownHostsFile={}", known_hosts.display());
    let mut all = vec![
        "-F",
        "none",
        "--no-agent",
        "-o",
        "BatchMode=yes",
        "-o",
        &known,
        "-i",
        &key,
        "-p",
        &port,
        "-l",
        &user,
    ];
    all.extend_from_slice(args);
    all.push("127.0.0.1");
    let conch = command_line(Path::new(env!("CARGO_BIN_EXE_conch")), &all);
    let before = shell_quote(&dir.join("before").display().to_string());
    let after = shell_quote(&dir.join("after").display().to_string());
    let line = format!("stty -g > {before}; {conch}; code=$?; stty -g > {after}; (exit $code)");
    Tmux::start(&line, 100, 30, &[("TERM", "vt220")])
}

/// Asserts the terminal's settings after the session are those before.
#[track_caller]
fn assert_terminal_restored(dir: &TestDir) {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let (before, after) = (read("before"), read("after"));
    assert!(before.contains(':'), "no settings recorded: {before:?}");
    assert_eq!(before, after, "the local terminal was left changed");
}

/// Waits for the remote shell to answer.
fn wait_ready(term: &Tmux) {
    term.line("echo ready-$((1+1))");
    term.wait_for("ready-2");
}

#[test]
fn conch_t_gives_the_remote_shell_a_terminal_and_restores_the_local_one() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("conch-t");
    let term = conch_in_terminal(&sshd, &dir, &["-t"]);
    wait_ready(&term);
    term.line("tty | sed s/pts/PTS/; echo T=$TERM-$((40+2))");
    term.wait_for("/dev/PTS/");
    term.wait_for("T=vt220-42");

    let (rows, cols) = term.pane_size();
    term.line("echo size=$(stty size)=");
    term.wait_for(&format!("size={rows} {cols}="));
    term.resize(120, 40);
    let (rows, cols) = term.pane_size();
    assert_eq!(cols, 120);
    term.line("echo resized=$(stty size)=");
    term.wait_for(&format!("resized={rows} {cols}="));

    term.line("sleep 100; echo not-interrupted-$((1+1))");
    std::thread::sleep(std::time::Duration::from_millis(500));
    term.keys(&["C-c"]);
    term.line("echo alive-$((6*7))");
    let screen = term.wait_for("alive-42");
    assert!(!screen.contains("not-interrupted-2"), "{screen}");

    // ~~ sends one tilde; ~? shows the help locally.
    term.keys(&["Enter"]);
    term.type_text("~?");
    term.wait_for("Supported escape sequences:");
    // Typed only once cat runs: what the shell's line editor reads ahead
    // while it starts cat is taken without echo and without a line end.
    term.line("sh -c 'echo cat-$((2+3)); exec cat'");
    term.wait_for("cat-5");
    term.type_text("~~ab");
    term.keys(&["Enter"]);
    // Echoed by the remote terminal, then written back by cat.
    let screen = term.wait_until("cat's line twice", |s| s.matches("~ab").count() >= 2);
    assert!(!screen.contains("~~ab"), "{screen}");
    term.keys(&["C-d"]);
    wait_ready(&term);

    term.line("exit 3");
    assert_eq!(term.exit_status(), 3, "{}", term.screen());
    assert_terminal_restored(&dir);
}

#[test]
fn tilde_dot_disconnects_and_restores_the_terminal() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("conch-tilde-dot");
    let term = conch_in_terminal(&sshd, &dir, &["-t"]);
    wait_ready(&term);
    term.keys(&["Enter"]);
    term.type_text("~.");
    assert_eq!(term.exit_status(), 255, "{}", term.screen());
    term.wait_for("Connection to 127.0.0.1 closed.");
    assert_terminal_restored(&dir);
}

#[test]
fn the_server_going_away_restores_the_terminal() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("conch-server-killed");
    let term = conch_in_terminal(&sshd, &dir, &["-t"]);
    wait_ready(&term);
    // The shell's parent is sshd's process for this connection.
    term.line("kill -9 $PPID");
    assert_eq!(term.exit_status(), 255, "{}", term.screen());
    assert_terminal_restored(&dir);
}

#[test]
fn with_e_none_a_tilde_dot_is_just_typed() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("conch-e-none");
    let term = conch_in_terminal(&sshd, &dir, &["-t", "-e", "none"]);
    wait_ready(&term);
    term.keys(&["Enter"]);
    term.type_text("~.");
    term.line("; echo typed-$((3+4))");
    term.wait_for("typed-7");
    term.line("exit 0");
    assert_eq!(term.exit_status(), 0, "{}", term.screen());
    assert_terminal_restored(&dir);
}

/// Forwards compose with the terminal: `conch -L ...` with no command,
/// stdin a terminal, gets a remote shell on a pseudo-terminal (as `ssh` does, and as plain `conch host` does) while
/// the local forward carries a connection, and `~.` still disconnects.
#[test]
fn forwards_keep_the_interactive_terminal() {
    use conch_interop::forwarding::{connect, round_trip, EchoServer};
    use conch_interop::net::free_port;

    let sshd = Sshd::start_default();
    let echo = EchoServer::start();
    let dir = TestDir::new("conch-forward-terminal");
    let listen = free_port();
    let forward = format!("{listen}:127.0.0.1:{}", echo.port());
    // (No -J here: with one sshd the jump host would be the destination,
    // which ssh and conch refuse as "jumphost loop".)
    let term = conch_in_terminal(&sshd, &dir, &["-L", &forward]);
    wait_ready(&term);
    term.line("tty | sed s/pts/PTS/");
    term.wait_for("/dev/PTS/");

    // The listener was bound before the shell started.
    let back = round_trip(connect(listen).unwrap(), b"through -L".to_vec()).unwrap();
    assert_eq!(back, b"through -L");

    term.keys(&["Enter"]);
    term.type_text("~.");
    assert_eq!(term.exit_status(), 255, "{}", term.screen());
    assert_terminal_restored(&dir);
}
