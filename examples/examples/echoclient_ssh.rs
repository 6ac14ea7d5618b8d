//! The Twisted Conch client how-to's `echoclient_ssh.py`: connects with the how-to's options, runs
//! `/bin/cat` on the server, writes "bif", "pow" and "zot" to it one at a
//! time and prints each answer as "Server says: ...".
//!
//! ```text
//! cargo run -p conch-examples --example echoclient_ssh -- -h HOST -p PORT -u USER -i ~/.ssh/id_ed25519
//! ```
//!
//! With `-C` the session is compressed (zlib@openssh.com) if the server
//! allows it, as with `ssh -C`.
//!
//! Host keys are checked against `~/.ssh/known_hosts` (or `-k FILE`); an
//! unknown host is asked about on the terminal, as `ssh` does.

use std::process::ExitCode;

use conch_examples::{echo, ConnectionParameters};

#[tokio::main]
async fn main() -> ExitCode {
    let parameters = match ConnectionParameters::from_command_line(std::env::args_os().skip(1)) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let endpoint = parameters.endpoint_for_command("/bin/cat");
    match echo::run(&endpoint, &mut std::io::stdout()).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echoclient_ssh: {e}");
            ExitCode::FAILURE
        }
    }
}
