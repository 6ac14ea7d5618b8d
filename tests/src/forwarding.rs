//! Fixtures of the forwarding tests: a loopback echo server (the target of
//! forwards), SOCKS5 and SOCKS4a client handshakes, and a check that many
//! connections through a forward each come back byte-exact.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Longest any socket operation of the fixtures waits.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A loopback TCP server echoing each connection until its EOF, then
/// shutting down its write side (so half-close is visible end to end).
/// Stops accepting when dropped.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl EchoServer {
    /// Starts on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo server");
        let addr = listener.local_addr().expect("echo address");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        thread::spawn(move || echo(stream));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
        });
        EchoServer { addr, stop }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn echo(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
}

/// Connects to the loopback `port` with the fixtures' timeouts.
pub fn connect(port: u16) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// Sends `data` on `stream` from a thread, half-closes, and reads back
/// until EOF; returns what came back.
pub fn round_trip(stream: TcpStream, data: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut writer = stream.try_clone()?;
    let sender = thread::spawn(move || -> io::Result<()> {
        writer.write_all(&data)?;
        writer.shutdown(Shutdown::Write)
    });
    let mut back = Vec::new();
    let mut reader = stream;
    reader.read_to_end(&mut back)?;
    sender
        .join()
        .map_err(|_| io::Error::other("sender panicked"))??;
    Ok(back)
}

/// Test data for connection `i`: `len` bytes, different for each.
pub fn data_for(i: u64, len: usize) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Opens `count` connections at once through `open` (a connect to a
/// forward's listening side), sends each its own `len` bytes and checks
/// each echo by SHA-256. Returns the first failure.
pub fn many_echoes(
    count: u64,
    len: usize,
    open: impl Fn() -> io::Result<TcpStream> + Send + Sync + 'static,
) -> Result<(), String> {
    let open = Arc::new(open);
    let handles: Vec<_> = (0..count)
        .map(|i| {
            let open = open.clone();
            thread::spawn(move || -> Result<(), String> {
                let data = data_for(i, len);
                let stream = open().map_err(|e| format!("connection {i}: {e}"))?;
                let back =
                    round_trip(stream, data.clone()).map_err(|e| format!("connection {i}: {e}"))?;
                if Sha256::digest(&back) != Sha256::digest(&data) {
                    return Err(format!(
                        "connection {i}: {} bytes back of {}, digest differs",
                        back.len(),
                        data.len()
                    ));
                }
                Ok(())
            })
        })
        .collect();
    let mut first_error = None;
    for h in handles {
        let r = h.join().unwrap_or_else(|_| Err("thread panicked".into()));
        if let (Err(e), None) = (r, &first_error) {
            first_error = Some(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Asks the SOCKS5 proxy on `proxy_port` (no authentication) to CONNECT to
/// `host:port` by name; the stream once granted, or the reply code.
pub fn socks5_connect(proxy_port: u16, host: &str, port: u16) -> io::Result<Result<TcpStream, u8>> {
    let mut s = connect(proxy_port)?;
    s.write_all(&[5, 1, 0])?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice)?;
    if choice != [5, 0] {
        return Err(io::Error::other(format!("method answer {choice:?}")));
    }
    let mut req = vec![5, 1, 0, 3, u8::try_from(host.len()).unwrap_or(255)];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req)?;
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply)?;
    Ok(if reply[1] == 0 { Ok(s) } else { Err(reply[1]) })
}

/// Asks the SOCKS4a proxy on `proxy_port` to CONNECT to `host:port`; the
/// stream once granted (reply 0x5A), or the reply code.
pub fn socks4a_connect(
    proxy_port: u16,
    host: &str,
    port: u16,
) -> io::Result<Result<TcpStream, u8>> {
    let mut s = connect(proxy_port)?;
    let mut req = vec![4, 1];
    req.extend_from_slice(&port.to_be_bytes());
    req.extend_from_slice(&[0, 0, 0, 1]);
    req.extend_from_slice(b"test\0");
    req.extend_from_slice(host.as_bytes());
    req.push(0);
    s.write_all(&req)?;
    let mut reply = [0u8; 8];
    s.read_exact(&mut reply)?;
    Ok(if reply[1] == 0x5a {
        Ok(s)
    } else {
        Err(reply[1])
    })
}
