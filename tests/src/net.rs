//! Loopback ports for the peers.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The address every peer listens on.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A loopback TCP port that was free a moment ago and has not been handed out
/// before in this process. Another process can still take it before the peer
/// binds, so the peers' `start` retries on a fresh port when binding fails.
#[track_caller]
pub fn free_port() -> u16 {
    static HANDED_OUT: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let handed_out = HANDED_OUT.get_or_init(Default::default);
    for _ in 0..100 {
        let listener = TcpListener::bind((LOOPBACK, 0))
            .unwrap_or_else(|err| panic!("cannot bind a loopback port: {err}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("local_addr: {err}"))
            .port();
        let mut handed_out = handed_out.lock().unwrap_or_else(|e| e.into_inner());
        if handed_out.insert(port) {
            return port;
        }
    }
    panic!("no fresh loopback port after 100 tries")
}

/// Whether something accepts TCP connections on the loopback `port` now.
pub fn port_accepts(port: u16) -> bool {
    let address = SocketAddr::from((LOOPBACK, port));
    match TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
        // With nothing listening yet, a connect to a port of the ephemeral
        // range can be given that very port as its source and connect to
        // itself (TCP simultaneous open): a server not started yet would
        // look ready, and the test's own connect then be refused.
        Ok(stream) => stream.local_addr().ok() != Some(address),
        Err(_) => false,
    }
}

/// Polls until `port` accepts connections (`Ok`), `gave_up` says to stop
/// (`Err` with its reason), or `timeout` passes (`Err`).
pub fn wait_for_port(
    port: u16,
    timeout: Duration,
    mut gave_up: impl FnMut() -> Option<String>,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if port_accepts(port) {
            return Ok(());
        }
        if let Some(reason) = gave_up() {
            return Err(reason);
        }
        if started.elapsed() >= timeout {
            return Err(format!("port {port} did not accept within {timeout:?}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}
