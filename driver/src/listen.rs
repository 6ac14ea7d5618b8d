//! The listening socket every adapter's server binds: one place that asks
//! the kernel for a deep accept queue.

use std::io;
use std::net::{SocketAddr, TcpListener};

/// Connections the kernel queues before they are accepted. std's
/// `TcpListener::bind` (and tokio's and smol's, built on it) asks for 128:
/// a burst of a thousand clients (a fleet tool connecting everywhere at
/// once) overflows that, and each dropped SYN costs its client a one-second
/// retransmit. The kernel caps the value at `net.core.somaxconn` (4096 on
/// current Linux).
pub const LISTEN_BACKLOG: i32 = 4096;

/// A TCP listener bound to `addr` with [`LISTEN_BACKLOG`], in blocking mode
/// (an async adapter switches it to non-blocking when it registers it).
/// Like std's bind, it sets `SO_REUSEADDR` on Unix, so a restarted server
/// binds again at once.
#[cfg(unix)]
pub fn listen_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    use rustix::net::{bind, listen, socket_with, sockopt, AddressFamily, SocketFlags, SocketType};
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    bind(&fd, &addr)?;
    listen(&fd, LISTEN_BACKLOG)?;
    Ok(TcpListener::from(fd))
}

/// Without rustix's sockets: std's bind and its backlog.
#[cfg(not(unix))]
pub fn listen_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// [`listen_tcp`] on the first of `addrs` that can be bound; the last
/// error if none can.
pub fn listen_tcp_any(addrs: impl IntoIterator<Item = SocketAddr>) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in addrs {
        match listen_tcp(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    #[test]
    fn binds_loopback_on_both_families_and_accepts() {
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let listener = match listen_tcp(addr) {
                Ok(l) => l,
                // A machine without IPv6 on loopback.
                Err(_) if addr.is_ipv6() => continue,
                Err(e) => panic!("{addr}: {e}"),
            };
            let bound = listener.local_addr().unwrap();
            assert_eq!(bound.ip(), addr.ip());
            assert_ne!(bound.port(), 0);
            let mut client = TcpStream::connect(bound).unwrap();
            let (mut served, _) = listener.accept().unwrap();
            client.write_all(b"ping").unwrap();
            let mut got = [0u8; 4];
            served.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
        }
    }

    /// The queue is deeper than std's 128: that many connections and more
    /// complete their handshake while nobody accepts (with 128, the SYNs
    /// past the queue are dropped and those connects hang in retransmits).
    #[cfg(target_os = "linux")]
    #[test]
    fn connections_beyond_128_are_queued_without_accepting() {
        let listener = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let timeout = std::time::Duration::from_secs(5);
        let clients: Vec<TcpStream> = (0..300)
            .map(|i| {
                TcpStream::connect_timeout(&addr, timeout)
                    .unwrap_or_else(|e| panic!("connect {i}: {e}"))
            })
            .collect();
        // Every one of them is in the accept queue, in order of arrival.
        listener.set_nonblocking(true).unwrap();
        let mut accepted = 0;
        while listener.accept().is_ok() {
            accepted += 1;
        }
        assert_eq!(accepted, clients.len());
    }

    #[test]
    fn an_address_in_use_is_an_error_and_the_next_one_is_tried() {
        let taken = listen_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let taken_addr = taken.local_addr().unwrap();
        assert!(listen_tcp(taken_addr).is_err());
        let free: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let listener = listen_tcp_any([taken_addr, free]).unwrap();
        assert_ne!(listener.local_addr().unwrap(), taken_addr);
        assert!(listen_tcp_any([]).is_err());
    }
}
