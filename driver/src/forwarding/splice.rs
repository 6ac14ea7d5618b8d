//! One forwarded connection: a channel and a local stream copied both ways
//! with half-close kept (RFC 4254 section 5.3) and per-channel
//! backpressure.

use std::io;
use std::pin::pin;

use futures_io::{AsyncRead, AsyncWrite};
use futures_util::future::{select, Either};
use futures_util::io::{AsyncReadExt, AsyncWriteExt};

use crate::channel::Channel;

/// Bytes read from the local side at once (one SSH packet's worth at the
/// default maximum packet size).
const CHUNK: usize = 32 * 1024;

/// Copies `stream` to `channel` and back until both directions have ended,
/// then closes the channel.
///
/// - EOF either way is passed on as EOF the other way (a channel EOF as a
///   shutdown of the stream's write side, the stream's EOF as channel EOF),
///   and the other direction goes on: half-close is kept both ways.
/// - Backpressure: data is read from one side only as fast as the other
///   takes it. A local reader that stops reading stops the channel's reads,
///   so its window closes and only its own sender waits; memory stays
///   within the channel's window and one chunk.
/// - Once the peer has closed the channel (after its EOF), the local side
///   is dropped even if it is still sending, as OpenSSH does.
///
/// An error on either side ends both (the channel is closed, the stream
/// dropped).
pub async fn splice<S>(channel: Channel, stream: S) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = stream.split();
    let ch = &channel;
    let up = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return ch.send_eof().map_err(|e| e.into_io());
            }
            let mut w = ch;
            w.write_all(&buf[..n]).await?;
        }
    };
    let down = async {
        while let Some(chunk) = ch.read_chunk(CHUNK).await? {
            wr.write_all(&chunk).await?;
        }
        // The peer's EOF: shut our write side, keep reading ours.
        wr.close().await
    };
    let (up, down) = (pin!(up), pin!(down));
    let result = match select(up, down).await {
        Either::Left((up, down)) => {
            up?;
            down.await
        }
        Either::Right((down, up)) => {
            down?;
            match select(up, pin!(ch.wait_closed())).await {
                Either::Left((up, _)) => up,
                Either::Right(((), _)) => Ok(()),
            }
        }
    };
    result
}
