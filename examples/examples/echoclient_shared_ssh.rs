//! The Twisted Conch client how-to's `echoclient_shared_ssh.py`: one connection (made with the
//! same options as `echoclient_ssh`), then 50 `/bin/echo N` commands on it,
//! each on its own channel, printing "Got some data: N" and "Lost my
//! connection" for each.
//!
//! ```text
//! cargo run -p conch-examples --example echoclient_shared_ssh -- -h HOST -p PORT -u USER
//! ```

use std::process::ExitCode;
use std::sync::Mutex;

use conch_examples::{shared, ConnectionParameters};

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
    let out = Mutex::new(std::io::stdout());
    match shared::fifty_echoes(&endpoint, &out).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echoclient_shared_ssh: {e}");
            ExitCode::FAILURE
        }
    }
}
