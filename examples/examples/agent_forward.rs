//! Agent forwarding with conch-tokio, as `ssh -A HOST COMMAND`: connects
//! with the how-to's options, asks for agent forwarding on the command's
//! session (`auth-agent-req@openssh.com`, OpenSSH PROTOCOL.agent), relays
//! each `auth-agent@openssh.com` channel the server opens to the local
//! agent at `SSH_AUTH_SOCK`, and prints the command's output.
//!
//! ```text
//! cargo run -p conch-examples --example agent_forward -- -h HOST -u USER \
//!     -i ~/.ssh/id_ed25519 -- ssh-add -l
//! ```
//!
//! The remote `ssh-add -l` lists the keys of the local agent.

use std::path::PathBuf;
use std::process::ExitCode;

use conch_examples::ConnectionParameters;
use conch_tokio::{serve_forwarded, Target};
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let command = args.get(split + 1..).unwrap_or_default().join(" ");
    let parameters = match ConnectionParameters::from_command_line(&args[..split]) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let Some(agent) = std::env::var_os("SSH_AUTH_SOCK") else {
        eprintln!("agent_forward: SSH_AUTH_SOCK is not set: no agent to forward");
        return ExitCode::from(2);
    };
    match run(&parameters, &command, PathBuf::from(agent)).await {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("agent_forward: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    parameters: &ConnectionParameters,
    command: &str,
    agent: PathBuf,
) -> Result<u32, Box<dyn std::error::Error>> {
    let session = parameters
        .endpoint_for_command("")
        .connect_session()
        .await?;
    let channel = session.open_session().await?;
    // Before the command starts, as ssh asks.
    channel.request_agent_forwarding()?;
    tokio::spawn({
        let session = session.clone();
        async move { serve_forwarded(&session, Vec::new(), Some(Target::Unix(agent)), None).await }
    });
    channel.exec(command).await?;
    let mut out = tokio::io::stdout();
    while let Some(chunk) = channel.read_chunk(64 * 1024).await? {
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(channel.exit_status().await?.shell_code())
}
