//! The Twisted Conch client how-to's shared-connection example (`echoclient_shared_ssh.py`): one
//! connection is made (running `/bin/cat`, as the how-to does, only to have
//! it), then 50 `/bin/echo N` commands run on it, each on its own channel
//! opened with [`CommandEndpoint::existing_connection`]. Each command's
//! `PrinterProtocol` prints "Got some data: N" for its output and "Lost my
//! connection" when its channel closes; the commands run side by side.

use std::io::Write;
use std::sync::Mutex;

use conch_tokio::{Channel, CommandEndpoint};
use futures_util::future::try_join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::BoxError;

/// How many commands share the connection.
pub const COMMANDS: usize = 50;

/// Connects `endpoint` and runs [`COMMANDS`] `/bin/echo N` commands on its
/// connection, printing what each says to `out`. Returns how many commands
/// ran to the end. The connection is closed at the end.
pub async fn fifty_echoes<W: Write>(
    endpoint: &CommandEndpoint,
    out: &Mutex<W>,
) -> Result<usize, BoxError> {
    let (session, mut cat) = endpoint.connect_with_session().await?;
    // The how-to opens the commands one after the other and lets them all run.
    let mut printers = Vec::with_capacity(COMMANDS);
    for i in 0..COMMANDS {
        let command = format!("/bin/echo {i}");
        let channel = CommandEndpoint::existing_connection(&session, command)
            .connect()
            .await?;
        printers.push(printer_protocol(channel, out));
    }
    let finished = try_join_all(printers).await?.len();
    // Done with the connection: end cat, then close it.
    cat.shutdown().await?;
    session.close().await;
    Ok(finished)
}

/// Prints every chunk the command sends as "Got some data: ..." and "Lost
/// my connection" once its channel has closed. The lines of one command are
/// written together when it ends, so that the output of 50 commands running
/// side by side stays readable (the how-to prints each chunk on arrival).
async fn printer_protocol<W: Write>(mut channel: Channel, out: &Mutex<W>) -> Result<(), BoxError> {
    let mut printed = String::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = channel.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        printed.push_str("Got some data: ");
        printed.push_str(&String::from_utf8_lossy(&buf[..n]));
        if !printed.ends_with('\n') {
            printed.push('\n');
        }
    }
    // The channel closes after the exit status; wait for it.
    let _ = channel.exit_status().await;
    drop(channel);
    printed.push_str("Lost my connection\n");
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    out.write_all(printed.as_bytes())?;
    out.flush()?;
    Ok(())
}
