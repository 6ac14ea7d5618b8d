//! The Twisted Conch client how-to's echo client (`echoclient_ssh.py`): its `NoiseProtocol` writes
//! "bif", "pow" and "zot" to a command that echoes (`/bin/cat`), one at a
//! time, printing each answer as "Server says: ..." before sending the next,
//! then closes its side and waits for the command to end.

use std::io::Write;

use conch_tokio::{Channel, CommandEndpoint, ExitStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::BoxError;

/// What the noise protocol sends, one line each.
pub const NOISE: [&str; 3] = ["bif", "pow", "zot"];

/// The longest answer line accepted (an echo of a noise word is 4 bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// Connects `endpoint` (which should run `/bin/cat`) and talks to it with
/// [`noise_protocol`] (the how-to's `main`).
pub async fn run(endpoint: &CommandEndpoint, out: &mut impl Write) -> Result<ExitStatus, BoxError> {
    let channel = endpoint.connect().await?;
    noise_protocol(channel, out).await
}

/// Sends each word of [`NOISE`] as a line and waits for it to come back,
/// writing "Server says: WORD" to `out`; then sends EOF and returns how
/// the command ended.
pub async fn noise_protocol(
    mut channel: Channel,
    out: &mut impl Write,
) -> Result<ExitStatus, BoxError> {
    let mut pending = Vec::new();
    for word in NOISE {
        channel.write_all(format!("{word}\n").as_bytes()).await?;
        let answer = read_line(&mut channel, &mut pending).await?;
        writeln!(out, "Server says: {answer}")?;
    }
    // `loseConnection`: no more input; cat then ends.
    channel.shutdown().await?;
    let mut rest = Vec::new();
    channel.read_to_end(&mut rest).await?;
    Ok(channel.exit_status().await?)
}

/// Reads up to and without the next `\n`, keeping what follows in `pending`.
async fn read_line(channel: &mut Channel, pending: &mut Vec<u8>) -> Result<String, BoxError> {
    loop {
        if let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
        }
        if pending.len() > MAX_ANSWER {
            return Err("answer line too long".into());
        }
        let mut buf = [0u8; 4096];
        let n = channel.read(&mut buf).await?;
        if n == 0 {
            return Err("the server closed the channel before answering".into());
        }
        pending.extend_from_slice(&buf[..n]);
    }
}
