//! The I/O pump on two threads: one reads the socket into the connection,
//! the other writes what the connection has to send and keeps its time.
//! Neither holds the connection's lock during a socket call, so a peer that
//! stops reading never blocks the input side.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Instant;

use conch_driver::block_on::thread_waker;
use conch_driver::Engine;

/// Size of the read buffer.
const READ_BUFFER: usize = 64 * 1024;

/// A socket the pump's two threads share: a TCP stream, or the Unix
/// socket of a `ProxyCommand` (with the command kept alive).
pub(crate) trait Socket: Read + Write + Send + Sized + 'static {
    /// A second handle on the same socket, for the other thread.
    fn try_clone(&self) -> io::Result<Self>;
    /// Shuts both directions down (ends the reader's blocking read).
    fn shutdown(&self);
}

impl Socket for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }

    fn shutdown(&self) {
        let _ = TcpStream::shutdown(self, Shutdown::Both);
    }
}

/// A proxy command's socket, holding the command until both threads end.
#[cfg(unix)]
pub(crate) struct ProxySocket(pub(crate) conch_driver::proxy::ProxyConnection);

#[cfg(unix)]
impl Read for ProxySocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.stream.read(buf)
    }
}

#[cfg(unix)]
impl Write for ProxySocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.stream.flush()
    }
}

#[cfg(unix)]
impl Socket for ProxySocket {
    fn try_clone(&self) -> io::Result<Self> {
        Ok(ProxySocket(conch_driver::proxy::ProxyConnection {
            stream: self.0.stream.try_clone()?,
            child: self.0.child.clone(),
        }))
    }

    fn shutdown(&self) {
        let _ = self.0.stream.shutdown(Shutdown::Both);
    }
}

/// Starts the reader and writer threads of one connection.
pub(crate) fn spawn<S: Socket>(stream: S, engine: Engine) -> io::Result<()> {
    let reader = stream.try_clone()?;
    let read_engine = engine.clone();
    thread::Builder::new()
        .name("conch-read".into())
        .spawn(move || read_loop(reader, read_engine))?;
    thread::Builder::new()
        .name("conch-write".into())
        .spawn(move || write_loop(stream, engine))?;
    Ok(())
}

fn read_loop<S: Socket>(mut stream: S, engine: Engine) {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                engine.eof();
                return;
            }
            Ok(n) => engine.input(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                engine.io_error(e);
                return;
            }
        }
    }
}

fn write_loop<S: Socket>(mut stream: S, engine: Engine) {
    let (waker, take_notified) = thread_waker();
    engine.set_waker(&waker);
    // What was taken from the connection, written without its lock; the
    // next take swaps its allocation in, so none is made per packet.
    let mut out = Vec::new();
    loop {
        // Asked only once everything taken has been written: the last
        // take may have been the DISCONNECT.
        if engine.should_close() {
            // Also ends the reader's blocking read.
            stream.shutdown();
            engine.finished();
            return;
        }
        engine.take_transmit(&mut out);
        if !out.is_empty() {
            // `write_all` retries interrupted writes and reports a socket
            // taking nothing as `WriteZero`.
            if let Err(e) = stream.write_all(&out) {
                engine.io_error(e);
            }
            continue;
        }
        let next = engine.on_time(Instant::now());
        // A wake since the last look means there may be more to send.
        if take_notified() {
            continue;
        }
        match next {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if deadline > now {
                    thread::park_timeout(deadline - now);
                }
            }
        }
    }
}
