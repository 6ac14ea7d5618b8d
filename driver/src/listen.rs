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

/// Pause after a failed accept that may pass (out of file descriptors or
/// memory) before the next, so a listener in trouble neither spins nor
/// gives up.
pub(crate) const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// What a listener does after `accept` failed with `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptFailure {
    /// One connection went wrong before it was accepted (reset or aborted
    /// by its client) or the call was interrupted: accept the next at once.
    Connection,
    /// The process or the system is short of descriptors or memory: pause
    /// ([`ACCEPT_BACKOFF`]) and accept again, as sshd goes on serving.
    Resources,
    /// The listening socket itself is broken: stop.
    Listener,
}

impl AcceptFailure {
    pub(crate) fn of(error: &io::Error) -> AcceptFailure {
        use io::ErrorKind::*;
        match error.kind() {
            ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut => {
                return AcceptFailure::Connection
            }
            OutOfMemory => return AcceptFailure::Resources,
            _ => {}
        }
        #[cfg(unix)]
        {
            use rustix::io::Errno;
            let resources = [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM];
            let connection = [
                Errno::PROTO,
                Errno::PERM,
                Errno::NETDOWN,
                Errno::HOSTUNREACH,
            ];
            if let Some(code) = error.raw_os_error() {
                if resources.iter().any(|e| e.raw_os_error() == code) {
                    return AcceptFailure::Resources;
                }
                // accept(2) on Linux: errors of the new connection's
                // network may be passed back as accept's; retry them.
                if connection.iter().any(|e| e.raw_os_error() == code) {
                    return AcceptFailure::Connection;
                }
            }
        }
        AcceptFailure::Listener
    }
}

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

    #[test]
    fn accept_failures_that_pass_do_not_stop_a_listener() {
        let kind = |k: io::ErrorKind| AcceptFailure::of(&io::Error::from(k));
        assert_eq!(
            kind(io::ErrorKind::ConnectionAborted),
            AcceptFailure::Connection
        );
        assert_eq!(kind(io::ErrorKind::Interrupted), AcceptFailure::Connection);
        #[cfg(unix)]
        {
            let os = |e: rustix::io::Errno| {
                AcceptFailure::of(&io::Error::from_raw_os_error(e.raw_os_error()))
            };
            assert_eq!(os(rustix::io::Errno::MFILE), AcceptFailure::Resources);
            assert_eq!(os(rustix::io::Errno::NFILE), AcceptFailure::Resources);
            assert_eq!(os(rustix::io::Errno::BADF), AcceptFailure::Listener);
            assert_eq!(os(rustix::io::Errno::INVAL), AcceptFailure::Listener);
        }
    }
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
