//! A real terminal for interactive tests: a command in a detached `tmux`
//! session on a server of its own (`tmux -L NAME`), typed into with
//! `send-keys`, read back with `capture-pane`, resized with
//! `resize-window`. Every wait is bounded; dropping the [`Tmux`] kills the
//! server and with it everything still running in the pane.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::process::require_program;

/// How long [`Tmux::wait_for`] waits unless told otherwise.
pub const WAIT: Duration = Duration::from_secs(10);

/// One tmux server with one window running a command.
#[derive(Debug)]
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (a shell command line, run by `sh -c` in tmux) in
    /// a `cols`x`rows` window with the variables `env` set; once it exits
    /// the pane shows `[exited N]` and stays open, so its last output and
    /// its status can be read ([`Tmux::exit_status`]).
    pub fn start(command: &str, cols: u16, rows: u16, env: &[(&str, &str)]) -> Tmux {
        require_program("tmux", "tmux");
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "conch-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux { socket };
        let mut line = String::new();
        for (k, v) in env {
            line.push_str(&format!("export {k}={}; ", shell_quote(v)));
        }
        line.push_str(&format!("{command}; echo \"[exited $?]\"; exec sleep 120"));
        let out = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            &line,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    /// Types `text` literally (no key names).
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-l", text]);
    }

    /// Presses keys by tmux's names (`Enter`, `C-c`, `C-d`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types `line` and presses Enter.
    pub fn line(&self, line: &str) {
        self.type_text(line);
        self.keys(&["Enter"]);
    }

    /// What the pane shows (with its scrollback), trailing blanks trimmed.
    pub fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-J", "-S", "-200"]);
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Waits until the pane shows `text`; panics with the screen after
    /// `timeout`.
    #[track_caller]
    pub fn wait_for_within(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {text:?}; the terminal shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits [`WAIT`] at most until the screen satisfies `test`; returns it.
    #[track_caller]
    pub fn wait_until(&self, what: &str, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if test(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the terminal shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`Tmux::wait_for_within`] [`WAIT`].
    #[track_caller]
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_for_within(text, WAIT)
    }

    /// Resizes the window (the program in it gets SIGWINCH).
    pub fn resize(&self, cols: u16, rows: u16) {
        let out = self.run(&[
            "resize-window",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
        assert!(out.status.success(), "tmux resize-window: {out:?}");
    }

    /// The exit status of the pane's command once it has exited (waits
    /// [`WAIT`] at most).
    #[track_caller]
    pub fn exit_status(&self) -> i32 {
        let screen = self.wait_for("[exited ");
        let rest = &screen[screen.rfind("[exited ").map_or(0, |i| i + 8)..];
        rest.split(']')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exit status on the terminal:\n{screen}"))
    }

    /// The pane's size as `stty size` says it: (rows, columns).
    pub fn pane_size(&self) -> (u16, u16) {
        let out = self.run(&["display-message", "-p", "#{pane_height} #{pane_width}"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut words = text.split_whitespace().map(|w| w.parse().unwrap_or(0));
        (words.next().unwrap_or(0), words.next().unwrap_or(0))
    }

    /// The pane's terminal device (`/dev/pts/N`), for `stty -F`.
    pub fn tty(&self) -> String {
        let out = self.run(&["display-message", "-p", "#{pane_tty}"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `stty -a` of the pane's terminal, as its program left it.
    pub fn stty(&self) -> String {
        let out = Command::new("stty")
            .args(["-a", "-F", &self.tty()])
            .output()
            .expect("run stty");
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let socket = self.run(&["display-message", "-p", "#{socket_path}"]);
        let _ = self.run(&["kill-server"]);
        // tmux leaves its socket file behind.
        let path = String::from_utf8_lossy(&socket.stdout).trim().to_string();
        if path.contains(&self.socket) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Quotes `s` for `sh`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A shell command line running `program` with `args`, each quoted.
pub fn command_line(program: &Path, args: &[&str]) -> String {
    let mut line = shell_quote(&program.display().to_string());
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    line
}
