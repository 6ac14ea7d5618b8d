//! A server whose users type to a program of its own, not to a process:
//! each session with a terminal (`ssh -t`) gets a tiny line-edited REPL
//! ([`conch_driver::terminal::TerminalChannel`]), which answers each line,
//! shows the terminal's size in its prompt (it follows resizes), and
//! leaves on `quit` or Ctrl-D with exit status 0.
//!
//! ```sh
//! cargo run -p conch-examples --example terminal_server -- --port 2222 --password secret
//! ssh -p 2222 alice@127.0.0.1        # password: secret
//! ```
//!
//! The host key is made afresh at each start (ssh will say it is unknown).

use conch_core::{AuthAttempt, AuthDecision, PrivateKey, ServerConfig};
use conch_driver::terminal::{Line, TerminalChannel};
use conch_driver::IncomingChannel;
use conch_tokio::{Channel, Listener, ServerHandler, ServerOptions};
use futures_util::io::AsyncWriteExt;

/// Password logins, and terminals for every session.
struct Handler {
    password: String,
}

impl ServerHandler for Handler {
    fn auth(&self, _user: &str, attempt: &AuthAttempt) -> AuthDecision {
        match attempt {
            AuthAttempt::Password { password, .. } if *password == self.password => {
                AuthDecision::Accept
            }
            _ => AuthDecision::Reject,
        }
    }

    /// Sessions may have a terminal: the REPL is the program on it.
    fn accept_pty(&self, _user: &str) -> bool {
        true
    }
}

/// The program on one terminal channel.
async fn repl(incoming: IncomingChannel) {
    let Some(pty) = incoming.pty.clone() else {
        // No terminal (ssh -T, or a command given): say so and leave.
        let channel = incoming.channel;
        let _ = (&mut &channel.stderr())
            .write_all(b"this server needs a terminal: ssh -t\n")
            .await;
        let _ = channel.send_exit_status(1);
        let _ = channel.send_eof();
        let _ = channel.close_channel().await;
        return;
    };
    let user = incoming.user.clone();
    let mut term = TerminalChannel::new(incoming.channel, &pty);
    let greeting = format!(
        "Hello {user}, your TERM is {}. Type 'quit' to leave.\n",
        term.term()
    );
    if term.write_text(&greeting).await.is_err() {
        return;
    }
    loop {
        let size = term.size();
        let prompt = format!("[{}x{}] > ", size.cols, size.rows);
        let answer = match term.read_line(&prompt).await {
            Ok(Line::Text(line)) if line.trim() == "quit" => break,
            Ok(Line::Text(line)) => format!(
                "{} characters, reversed: {}\n",
                line.chars().count(),
                line.chars().rev().collect::<String>()
            ),
            Ok(Line::Interrupt) => continue,
            Ok(Line::Eof) | Err(_) => break,
        };
        if term.write_text(&answer).await.is_err() {
            break;
        }
    }
    let _ = term.write_text("Bye.\n").await;
    term.finish(0).await;
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut port = 2222u16;
    let mut password = None;
    let mut args = lexopt::Parser::from_env();
    while let Some(arg) = args.next().map_err(std::io::Error::other)? {
        use lexopt::prelude::*;
        match arg {
            Long("port") => {
                port = args
                    .value()
                    .map_err(std::io::Error::other)?
                    .parse()
                    .map_err(std::io::Error::other)?
            }
            Long("password") => password = Some(args.value().map_err(std::io::Error::other)?),
            other => return Err(std::io::Error::other(other.unexpected())),
        }
    }
    let password = password
        .and_then(|p| p.into_string().ok())
        .ok_or_else(|| std::io::Error::other("--password PASSWORD is required"))?;

    let mut config = ServerConfig::new(vec![PrivateKey::generate_ed25519(
        &mut rand_core::UnwrapErr(getrandom::SysRng),
    )]);
    config.auth_methods = vec!["password".into()];
    let listener = Listener::bind(
        ("127.0.0.1", port),
        ServerOptions::new(config, Handler { password }),
    )
    .await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (session, _peer) = listener.accept().await?;
        tokio::spawn(async move {
            while let Some(incoming) = session.accept_channel().await {
                tokio::spawn(repl(incoming.map(Channel::into_inner)));
            }
        });
    }
}
