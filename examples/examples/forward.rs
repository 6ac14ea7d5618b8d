//! Local forwarding with conch-tokio, as `ssh -N -L [BIND:]PORT:HOST:HOSTPORT`:
//! connects with the how-to's options, listens on a local port, and carries
//! each connection to it over a `direct-tcpip` channel to HOST:HOSTPORT as
//! the server sees it, until the connection ends (or Ctrl-C).
//!
//! ```text
//! cargo run -p conch-examples --example forward -- -h HOST -u USER -i ~/.ssh/id_ed25519 \
//!     -- 127.0.0.1:5433 db.internal 5432
//! ```
//!
//! Then `psql -h 127.0.0.1 -p 5433` reaches `db.internal:5432` through the
//! server. Port 0 picks a free local port, which is printed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use conch_examples::ConnectionParameters;
use conch_tokio::{local_forward, Error, Listen, Target};

/// `LISTEN HOST PORT` after `--`.
fn forward_spec(words: &[String]) -> Result<(SocketAddr, String, u16), String> {
    let [listen, host, port] = words else {
        return Err("after --: LISTEN_ADDRESS:PORT TARGET_HOST TARGET_PORT".into());
    };
    let listen = listen
        .parse()
        .map_err(|e| format!("bad listen address {listen:?}: {e}"))?;
    let port = port
        .parse()
        .map_err(|e| format!("bad port {port:?}: {e}"))?;
    Ok((listen, host.clone(), port))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let parsed = ConnectionParameters::from_command_line(&args[..split])
        .and_then(|p| Ok((p, forward_spec(args.get(split + 1..).unwrap_or_default())?)));
    let (parameters, (listen, host, port)) = match parsed {
        Ok(p) => p,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let session = match parameters.endpoint_for_command("").connect_session().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("forward: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Each failed channel open is reported, as ssh does; the listener goes on.
    let report = Arc::new(|e: &Error| eprintln!("forward: connection not forwarded: {e}"));
    let listener = match local_forward(
        &session,
        &Listen::Tcp(vec![listen]),
        Some(Target::Tcp {
            host: host.clone(),
            port,
        }),
        Some(report),
    )
    .await
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("forward: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(addr) = listener.local_addr() {
        println!("forwarding {addr} to {host}:{port}");
    }
    // Ctrl-C ends the process, and with it the connection and listener.
    session.closed().await;
    eprintln!("forward: connection ended");
    ExitCode::FAILURE
}
