//! Serving the `sftp` subsystem on a channel: the `conch-sftp` server
//! state machine between the channel and a [`FileSystem`].

use conch_sftp::server::{FileSystem, Server};
use futures_util::io::AsyncWriteExt;

use super::{Result, SftpError};
use crate::channel::Channel;

/// Serves SFTP on `channel` until the client closes it, then closes the
/// channel (exit status 0, EOF, CLOSE). The file system's calls run on the
/// polling task: for a file system doing blocking I/O, use
/// [`serve_blocking`] on a thread of its own.
pub async fn serve<F: FileSystem>(channel: &Channel, server: Server<F>) -> Result<()> {
    let mut server = server;
    let result = run(channel, &mut server).await;
    let _ = channel.send_exit_status(if result.is_ok() { 0 } else { 1 });
    let _ = channel.send_eof();
    let _ = channel.close_channel().await;
    result
}

async fn run<F: FileSystem>(channel: &Channel, server: &mut Server<F>) -> Result<()> {
    let mut writer = channel;
    loop {
        // Each reply goes out before more input is read, so the output
        // held here is bounded by what one chunk of requests produces.
        let out = server.transmit();
        if !out.is_empty() {
            writer.write_all(out).await.map_err(SftpError::Channel)?;
            let n = out.len();
            server.consume_transmit(n);
        }
        let Some(chunk) = channel
            .read_chunk(256 * 1024)
            .await
            .map_err(SftpError::Channel)?
        else {
            return Ok(());
        };
        server.handle_input(&chunk)?;
    }
}

/// [`serve`], blocking the calling thread (run it on a thread of its own:
/// a real file system's calls block).
pub fn serve_blocking<F: FileSystem>(channel: &Channel, server: Server<F>) -> Result<()> {
    crate::block_on::block_on(serve(channel, server))
}
