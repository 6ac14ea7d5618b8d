//! [`ConsoleUi`]: the host key question asked on the terminal, the way `ssh`
//! asks it.
//!
//! The question goes to the controlling terminal (`/dev/tty`), not stdout
//! or stdin, which may be pipes carrying the remote command's data. Without
//! a terminal the answer is no, so an unattended program never trusts a new
//! host by accident. Warnings go to stderr, where `ssh` writes them.

use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;

use conch_core::known_hosts::{parse_answer, Answer, ASK_AGAIN_PROMPT};
use conch_core::PublicKey;

use crate::known_hosts_file::HostKeyUi;

/// The longest answer line read; a terminal line is far shorter, and a
/// runaway input must not grow memory.
const MAX_ANSWER_LEN: u64 = 4096;

/// Asks on the terminal, warns on stderr.
#[derive(Debug, Clone)]
pub struct ConsoleUi {
    tty: PathBuf,
}

impl ConsoleUi {
    /// Asks on `/dev/tty`.
    pub fn new() -> Self {
        Self::with_terminal("/dev/tty")
    }

    /// Asks on another terminal device (e.g. a pseudo-terminal in tests).
    pub fn with_terminal(path: impl Into<PathBuf>) -> Self {
        ConsoleUi { tty: path.into() }
    }
}

impl Default for ConsoleUi {
    fn default() -> Self {
        Self::new()
    }
}

impl HostKeyUi for ConsoleUi {
    fn confirm(&self, prompt: &str, key: &PublicKey) -> bool {
        let Ok(tty) = OpenOptions::new().read(true).write(true).open(&self.tty) else {
            // No terminal: nobody can say yes.
            return false;
        };
        let Ok(writer) = tty.try_clone() else {
            return false;
        };
        ask(BufReader::new(tty), writer, prompt, key).unwrap_or(false)
    }

    fn warn(&self, message: &str) {
        let mut stderr = io::stderr().lock();
        let _ = stderr.write_all(message.as_bytes());
        let _ = stderr.flush();
    }
}

/// Shows `prompt`, reads answers until one is yes or no (OpenSSH asks again
/// after anything else); the end of input is no.
pub(crate) fn ask(
    mut input: impl BufRead,
    mut output: impl Write,
    prompt: &str,
    key: &PublicKey,
) -> io::Result<bool> {
    output.write_all(prompt.as_bytes())?;
    output.flush()?;
    loop {
        let mut line = String::new();
        if input.by_ref().take(MAX_ANSWER_LEN).read_line(&mut line)? == 0 {
            return Ok(false);
        }
        match parse_answer(&line, key) {
            Answer::Yes => return Ok(true),
            Answer::No => return Ok(false),
            Answer::AskAgain => {
                output.write_all(ASK_AGAIN_PROMPT.as_bytes())?;
                output.flush()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    fn key() -> PublicKey {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        conch_core::PrivateKey::generate_ed25519(&mut rng)
            .public_key()
            .clone()
    }

    fn answer(typed: &str) -> (bool, String) {
        let mut shown = Vec::new();
        let yes = ask(typed.as_bytes(), &mut shown, "Continue? ", &key()).unwrap();
        (yes, String::from_utf8(shown).unwrap())
    }

    #[test]
    fn yes_and_no_in_any_case() {
        assert_eq!(answer("yes\n"), (true, "Continue? ".into()));
        assert!(answer("YES\n").0);
        assert!(!answer("No\n").0);
    }

    #[test]
    fn the_fingerprint_pasted_back_is_yes() {
        let typed = format!("{}\n", key().fingerprint());
        assert!(answer(&typed).0);
    }

    #[test]
    fn anything_else_asks_again_and_end_of_input_is_no() {
        let (yes, shown) = answer("maybe\nyes\n");
        assert!(yes);
        assert_eq!(shown, format!("Continue? {ASK_AGAIN_PROMPT}"));
        let (yes, shown) = answer("perhaps\n");
        assert!(!yes);
        assert_eq!(shown, format!("Continue? {ASK_AGAIN_PROMPT}"));
        assert!(!answer("").0);
    }

    #[test]
    fn no_terminal_means_no() {
        let ui = ConsoleUi::with_terminal("/nonexistent/conch-test-tty");
        assert!(!ui.confirm("Continue? ", &key()));
    }
}
