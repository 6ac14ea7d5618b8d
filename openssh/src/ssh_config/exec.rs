//! `Match exec`: the command runs through `/bin/sh -c` with stdin and
//! stdout on `/dev/null`, as OpenSSH's `execute_in_shell` runs it; the
//! criterion holds when it exits with status 0. Behind a trait so tests
//! (and programs that must not spawn) can substitute it.

use std::process::{Command, Stdio};

/// Runs `Match exec` commands.
pub trait CommandRunner: Send + Sync {
    /// Runs `command` (already token-expanded); `Ok(true)` when it exits
    /// with status 0.
    fn run(&self, command: &str) -> std::io::Result<bool>;
}

/// The real runner: `/bin/sh -c COMMAND`, stdin and stdout on
/// `/dev/null`, stderr inherited (ssh shows the command's errors).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShellRunner;

impl CommandRunner for ShellRunner {
    fn run(&self, command: &str) -> std::io::Result<bool> {
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()?;
        Ok(status.success())
    }
}

/// A runner that never spawns: every command fails (`Match exec` never
/// holds). For programs that must not run configured commands.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExec;

impl CommandRunner for NoExec {
    fn run(&self, _command: &str) -> std::io::Result<bool> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_runner_reports_exit_status() {
        assert!(ShellRunner.run("exit 0").unwrap());
        assert!(!ShellRunner.run("exit 3").unwrap());
        // Through the shell: a pipeline and a test.
        assert!(ShellRunner
            .run("echo hi | grep -q hi && test 1 = 1")
            .unwrap());
        assert!(!NoExec.run("true").unwrap());
    }
}
