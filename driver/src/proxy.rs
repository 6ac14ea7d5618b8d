//! ssh's `ProxyCommand`: the connection is a local command's standard
//! input and output instead of a TCP socket (ssh_config(5) `ProxyCommand`;
//! OpenSSH sshconnect.c `ssh_proxy_connect`).
//!
//! The command gets one end of a Unix socket pair as both its stdin and
//! its stdout, and the connection the other end: one bidirectional byte
//! stream, which the blocking adapter's pump reads and writes from two
//! threads like a TCP socket, and the async adapters through async-io's
//! reactor (whatever their runtime). The command is killed when the
//! connection's stream goes, as ssh kills it when it exits; async-process
//! reaps it.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_process::{Child, Command, Stdio};
use futures_io::{AsyncRead, AsyncWrite};

/// A running proxy command; killed when the last handle goes.
#[derive(Debug)]
pub struct ProxyChild {
    _child: Child,
}

/// The connection's end of a proxy command: a connected Unix socket whose
/// peer is the command's stdin and stdout, and the command.
#[derive(Debug)]
pub struct ProxyConnection {
    /// Our end of the socket pair.
    pub stream: UnixStream,
    /// The command (killed when the last clone is dropped).
    pub child: Arc<ProxyChild>,
}

/// Starts `command` as ssh starts a `ProxyCommand`: `exec COMMAND` through
/// `$SHELL -c` (`/bin/sh` when `SHELL` is unset), its stdin and stdout the
/// connection, its stderr ours (ssh shows the proxy's errors).
pub fn spawn_proxy_command(command: &str) -> io::Result<ProxyConnection> {
    let (ours, theirs) = UnixStream::pair()?;
    let theirs_out = theirs.try_clone()?;
    let shell = std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let child = Command::new(shell)
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)))
        .kill_on_drop(true)
        .spawn()?;
    Ok(ProxyConnection {
        stream: ours,
        child: Arc::new(ProxyChild { _child: child }),
    })
}

/// A proxy connection as a `futures-io` stream, for the async adapters:
/// the socket registered with async-io's reactor.
#[derive(Debug)]
pub struct ProxyStream {
    io: async_io::Async<UnixStream>,
    _child: Arc<ProxyChild>,
}

impl ProxyStream {
    /// Starts `command` ([`spawn_proxy_command`]) and registers its socket.
    pub fn spawn(command: &str) -> io::Result<Self> {
        let ProxyConnection { stream, child } = spawn_proxy_command(command)?;
        Ok(ProxyStream {
            io: async_io::Async::new(stream)?,
            _child: child,
        })
    }
}

impl AsyncRead for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::io::{AsyncReadExt, AsyncWriteExt};

    /// What is written reaches the command's stdin and its stdout comes
    /// back (`tr` writes once `head` has passed six bytes on).
    #[test]
    fn the_commands_stdin_and_stdout_are_the_stream() {
        crate::block_on::block_on(async {
            let mut s = ProxyStream::spawn("head -c 6 | tr a-z A-Z").unwrap();
            s.write_all(b"hello\n").await.unwrap();
            let mut buf = [0u8; 6];
            s.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"HELLO\n");
        });
    }

    /// A command that cannot run ends the stream: the connection sees EOF
    /// rather than waiting forever.
    #[test]
    fn a_failing_command_ends_the_stream() {
        crate::block_on::block_on(async {
            let mut s = ProxyStream::spawn("exit 3").unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.unwrap();
            assert!(out.is_empty());
        });
    }
}
