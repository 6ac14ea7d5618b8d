//! Peers that misbehave at the socket: a listener that never accepts, a
//! scripted peer that says what it is told, and a proxy that can freeze or
//! die between a client and a server.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use conch_core::{PrivateKey, ServerConfig};

/// A TCP listener on loopback that never accepts: its backlog is full, so
/// the kernel drops further connection attempts and `connect` hangs
/// until the caller's timeout (Linux drops SYNs to a full accept queue).
#[derive(Debug)]
pub struct UnacceptedListener {
    listener: TcpListener,
    _queued: TcpStream,
}

impl UnacceptedListener {
    /// Binds it and fills its backlog.
    pub fn new() -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("address");
        socket.bind(&any_port.into()).expect("bind");
        // A backlog of 0 holds one connection; the next is dropped.
        socket.listen(0).expect("listen");
        let listener: TcpListener = socket.into();
        let queued = TcpStream::connect(listener.local_addr().expect("address")).expect("fill");
        UnacceptedListener {
            listener,
            _queued: queued,
        }
    }

    /// The address nobody will be accepted on.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("address")
    }
}

impl Default for UnacceptedListener {
    fn default() -> Self {
        Self::new()
    }
}

/// A loopback peer that accepts connections and reads (and drops)
/// whatever arrives, after sending a fixed prefix, if any: a server that
/// never sends its identification, or one that stops after its KEXINIT.
/// It records whether the client closed each connection.
#[derive(Debug)]
pub struct ScriptedPeer {
    addr: SocketAddr,
    state: Arc<Mutex<ScriptedState>>,
}

#[derive(Debug, Default)]
struct ScriptedState {
    accepted: usize,
    closed_by_client: usize,
}

impl ScriptedPeer {
    /// A server that accepts and never says anything.
    pub fn silent() -> Self {
        Self::start(Vec::new(), false)
    }

    /// A server that sends its identification and KEXINIT (made by the
    /// core's own server) and then nothing more.
    pub fn stops_after_kexinit() -> Self {
        Self::start(Self::identification_and_kexinit(), false)
    }

    /// A server that sends its identification and KEXINIT, then dies
    /// (closes the connection) in the middle of the key exchange.
    pub fn dies_after_kexinit() -> Self {
        Self::start(Self::identification_and_kexinit(), true)
    }

    fn identification_and_kexinit() -> Vec<u8> {
        use rand_chacha::rand_core::SeedableRng;
        let rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x6b6578);
        let host = PrivateKey::generate_ed25519(&mut rand_chacha::ChaCha20Rng::seed_from_u64(1));
        let now = Instant::now();
        let config = Arc::new(ServerConfig::new(vec![host]));
        let mut conn = conch_core::Connection::server(config, Box::new(rng), now);
        // The first entry with an RNG queues our KEXINIT after the
        // identification (RFC 4253 section 7.1).
        conn.handle_timeout(now);
        let mut prefix = Vec::new();
        while let Some(out) = conn.poll_transmit() {
            let n = out.len();
            prefix.extend_from_slice(out);
            conn.consume_transmit(n);
        }
        assert!(prefix.starts_with(b"SSH-2.0-") && prefix.len() > 100);
        prefix
    }

    fn start(prefix: Vec<u8>, then_die: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let state = Arc::<Mutex<ScriptedState>>::default();
        let shared = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                lock_scripted(&shared).accepted += 1;
                let shared = shared.clone();
                let prefix = prefix.clone();
                thread::spawn(move || {
                    let _ = stream.write_all(&prefix);
                    if then_die {
                        // Let the client's first bytes arrive, then go.
                        thread::sleep(Duration::from_millis(50));
                        let _ = stream.shutdown(Shutdown::Both);
                        return;
                    }
                    let mut buf = [0u8; 4096];
                    // Read until the client closes (or resets) the socket.
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                    lock_scripted(&shared).closed_by_client += 1;
                });
            }
        });
        ScriptedPeer { addr, state }
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether at least one connection was accepted and the client has
    /// closed every one.
    pub fn all_closed_by_client(&self) -> bool {
        let state = lock_scripted(&self.state);
        state.accepted > 0 && state.closed_by_client == state.accepted
    }
}

fn lock_scripted(state: &Mutex<ScriptedState>) -> MutexGuard<'_, ScriptedState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A TCP proxy on loopback between a client and a server that the test can
/// cut ([`FaultProxy::kill`]: both sockets shut, as when a peer's process
/// dies) or freeze ([`FaultProxy::freeze`]: the sockets stay open and
/// nothing is forwarded any more, as when a peer hangs or a network path
/// goes dark). Dropping it kills it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
}

#[derive(Debug)]
struct ProxyShared {
    state: Mutex<ProxyState>,
}

#[derive(Debug, Default)]
struct ProxyState {
    frozen: bool,
    killed: bool,
    /// Client to server bytes forwarded.
    upstream: u64,
    /// Server to client bytes forwarded.
    downstream: u64,
    /// Connections whose client closed its side.
    closed_by_client: usize,
    accepted: usize,
    /// Every socket of every connection, to shut them on a kill.
    sockets: Vec<TcpStream>,
}

impl ProxyShared {
    fn state(&self) -> MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FaultProxy {
    /// A proxy forwarding connections made to [`FaultProxy::addr`] to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(ProxyShared {
            state: Default::default(),
        });
        let accept_shared = shared.clone();
        spawn_named("proxy-accept", move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if accept_shared.state().killed {
                    return;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let clones = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                );
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = clones else {
                    continue;
                };
                {
                    let mut state = accept_shared.state();
                    state.accepted += 1;
                    state.sockets.extend([c3, s3]);
                }
                let up = accept_shared.clone();
                spawn_named("proxy-up", move || forward(client, s2, &up, true));
                let down = accept_shared.clone();
                spawn_named("proxy-down", move || forward(server, c2, &down, false));
            }
        });
        FaultProxy { addr, shared }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shuts every connection down in both directions, as the kernel does
    /// for a process that dies: each side reads EOF, writes fail.
    pub fn kill(&self) {
        let sockets = {
            let mut state = self.shared.state();
            state.killed = true;
            std::mem::take(&mut state.sockets)
        };
        for s in sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// From now on forwards nothing in either direction, while keeping the
    /// connections open (what arrives is read and dropped).
    pub fn freeze(&self) {
        self.shared.state().frozen = true;
    }

    /// Client to server bytes forwarded so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.state().upstream
    }

    /// Server to client bytes forwarded so far.
    pub fn downstream_bytes(&self) -> u64 {
        self.shared.state().downstream
    }

    /// Whether at least one connection was made and the client closed
    /// (or reset) every one.
    pub fn all_closed_by_client(&self) -> bool {
        let state = self.shared.state();
        state.accepted > 0 && state.closed_by_client == state.accepted
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.kill();
        // Wakes the accept loop so it sees the kill and ends.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Starts a thread with a name that shows in [`describe_threads_and_fds`].
fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("thread");
}

/// Copies `from` to `to` while the proxy forwards; `upstream` tells the
/// direction (client to server).
fn forward(mut from: TcpStream, mut to: TcpStream, shared: &ProxyShared, upstream: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut state = shared.state();
            if state.killed {
                return;
            }
            if state.frozen {
                continue;
            }
            if upstream {
                state.upstream += n as u64;
            } else {
                state.downstream += n as u64;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
    let mut state = shared.state();
    if upstream && !state.killed {
        state.closed_by_client += 1;
    }
    if !state.killed && !state.frozen {
        // Pass the half-close on, as a kernel would.
        let _ = to.shutdown(Shutdown::Write);
    }
}
