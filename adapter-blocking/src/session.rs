//! The client side: connecting and the blocking [`Session`].

use std::net::{TcpStream, ToSocketAddrs};

use bytes::Bytes;
use conch_driver::block_on::{block_on, block_on_until};
use conch_driver::conch_core::{Forward, NegotiatedAlgorithms};
use conch_driver::PendingOpen;

use crate::channel::Channel;
use crate::{
    AuthMethods, AuthResult, ClientOptions, Error, KeyboardInteractive, PrivateKey, PublicKey,
    Result, ServerName, Signer,
};

/// Connects to `host` (a name or an address) on `port` over TCP: every
/// address the name resolves to is tried in turn (IPv6 and IPv4), each
/// within the options' connect timeout; then the handshake, host key check
/// included, within the connection's handshake timeout
/// (`TransportConfig::handshake_timeout`). Authenticate next.
pub fn connect(host: &str, port: u16, options: ClientOptions) -> Result<Session> {
    #[cfg(unix)]
    if let Some(command) = &options.proxy_command {
        let proxy =
            conch_driver::proxy::spawn_proxy_command(command).map_err(|e| Error::Connect {
                addr: format!("proxy command {command:?}"),
                source: std::sync::Arc::new(e),
            })?;
        let socket = crate::pump::ProxySocket(proxy);
        return start(socket, ServerName::new(host, port), options);
    }
    let mut attempt = 1;
    let (stream, addr) = loop {
        let made = (host, port)
            .to_socket_addrs()
            .map_err(|e| conch_driver::resolve_error(host, e))
            .and_then(|addrs| {
                let addrs = options.address_family.filter(addrs.collect());
                // The address loop is the async adapters'
                // (`conch_driver::connect_each`); each attempt is std's
                // blocking connect, bounded by the OS's own connect timeout
                // rather than a runtime's timer (there is none here), so
                // the future runs to its end at once on this thread.
                block_on(conch_driver::connect_each(host, addrs, |addr| {
                    std::future::ready(
                        match options.connect_timeout {
                            Some(limit) => TcpStream::connect_timeout(&addr, limit),
                            None => TcpStream::connect(addr),
                        }
                        .map(|s| (s, addr)),
                    )
                }))
            });
        match made {
            Ok(made) => break made,
            Err(e @ Error::Resolve { .. }) => return Err(e),
            Err(_) if attempt < options.connection_attempts => {
                // ssh.c `ssh_connect_direct`: a second between attempts.
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    };
    // Interactive traffic and small packets: do not wait to coalesce.
    let _ = stream.set_nodelay(true);
    connect_stream(
        stream,
        ServerName::new(host, port).with_address(addr.ip()),
        options,
    )
}

// Not `conch_driver::runtime::connect_stream`: there is no task to spawn
// the pump as; the connection's threads run it (`crate::pump`), and the
// handshake is waited for on the caller's thread.
/// Runs the client handshake over a connected TCP stream. `server` names
/// the server for host key verification.
pub fn connect_stream(
    stream: TcpStream,
    server: ServerName,
    options: ClientOptions,
) -> Result<Session> {
    start(stream, server, options)
}

fn start(
    stream: impl crate::pump::Socket,
    server: ServerName,
    options: ClientOptions,
) -> Result<Session> {
    let (inner, engine) = conch_driver::client(&options, server);
    crate::pump::spawn(stream, engine)?;
    // As the async adapters (`conch_driver::start_client`): the connect
    // timeout bounds the banner and key exchanges, as ssh's
    // ConnectTimeout does.
    let deadline = options
        .connect_timeout
        .map(|t| std::time::Instant::now() + t);
    match block_on_until(inner.host_key_received(), deadline) {
        Some(reached) => reached?,
        None => return Err(inner.handshake_timed_out()),
    }
    // The connection's handshake timeout bounds this; on an error, dropping
    // `inner` ends the connection and its threads.
    block_on(inner.handshake())?;
    Ok(Session { inner })
}

/// A blocking client session (the methods of [`conch_driver::Session`],
/// each waiting on the calling thread). Cheap to clone, `Send + Sync`; the
/// connection ends when the last clone and channel are gone.
#[derive(Debug, Clone)]
pub struct Session {
    inner: conch_driver::Session,
}

impl Session {
    pub(crate) fn new(inner: conch_driver::Session) -> Self {
        Session { inner }
    }

    /// The runtime-agnostic session underneath.
    pub fn driver(&self) -> &conch_driver::Session {
        &self.inner
    }

    /// Authenticates the way `ssh` does (see
    /// [`conch_driver::Session::authenticate`]).
    pub fn authenticate(&self, user: &str, methods: AuthMethods) -> Result<()> {
        block_on(self.inner.authenticate(user, methods))
    }

    /// Tries method `none` (learns the server's methods).
    pub fn auth_none(&self, user: &str) -> Result<AuthResult> {
        block_on(self.inner.auth_none(user))
    }

    /// Tries a password.
    pub fn auth_password(&self, user: &str, password: &str) -> Result<AuthResult> {
        block_on(self.inner.auth_password(user, password))
    }

    /// Answers a password change request.
    pub fn auth_change_password(&self, old: &str, new: &str) -> Result<AuthResult> {
        block_on(self.inner.auth_change_password(old, new))
    }

    /// Public key authentication with a key in memory.
    pub fn auth_publickey(&self, user: &str, key: &PrivateKey) -> Result<AuthResult> {
        block_on(self.inner.auth_publickey(user, key))
    }

    /// Public key authentication with any signer.
    pub fn auth_signer(&self, user: &str, signer: &dyn Signer) -> Result<AuthResult> {
        block_on(self.inner.auth_signer(user, signer))
    }

    /// Keyboard-interactive authentication.
    pub fn auth_keyboard_interactive(
        &self,
        user: &str,
        responder: &mut dyn KeyboardInteractive,
    ) -> Result<AuthResult> {
        block_on(self.inner.auth_keyboard_interactive(user, responder))
    }

    /// Opens a `session` channel; send requests on it before using it.
    pub fn open_session(&self) -> Result<Channel> {
        block_on(self.inner.open_session()).map(Channel::new)
    }

    /// Opens a channel of any type with its type-specific data.
    pub fn open_channel(&self, kind: &str, extra: &[u8]) -> Result<Channel> {
        block_on(self.inner.open_channel(kind, extra)).map(Channel::new)
    }

    /// Opens a session channel running `command`.
    pub fn exec(&self, command: impl AsRef<[u8]>) -> Result<Channel> {
        block_on(self.inner.exec(command)).map(Channel::new)
    }

    /// Opens a `direct-tcpip` channel to `host:port` as the server sees it
    /// (RFC 4254 section 7.2; `ssh -W`): a byte stream to the target.
    pub fn open_direct_tcpip(&self, host: &str, port: u16) -> Result<Channel> {
        block_on(self.inner.open_direct_tcpip(host, port)).map(Channel::new)
    }

    /// Opens a `direct-streamlocal@openssh.com` channel to the server's
    /// Unix socket `path` (OpenSSH PROTOCOL section 2.4).
    pub fn open_direct_streamlocal(&self, path: &str) -> Result<Channel> {
        block_on(self.inner.open_direct_streamlocal(path)).map(Channel::new)
    }

    /// Asks the server to listen for us (`ssh -R`); returns the port bound
    /// (the one allocated for port 0). See
    /// [`conch_driver::Session::request_forward`].
    pub fn request_forward(&self, forward: &Forward) -> Result<u32> {
        block_on(self.inner.request_forward(forward))
    }

    /// Cancels a forward (a port-0 forward named by its allocated port).
    pub fn cancel_forward(&self, forward: &Forward) -> Result<()> {
        block_on(self.inner.cancel_forward(forward))
    }

    /// The next channel the server opened for one of our forwards, with
    /// its origin; accept it (as a [`Channel`] with `Channel::from`) or
    /// refuse it. `None` once the connection has ended.
    pub fn accept_forwarded(&self) -> Option<PendingOpen> {
        block_on(self.inner.accept_forwarded())
    }

    /// Sends a global request and waits for the reply data.
    pub fn global_request(&self, name: &str, data: &[u8]) -> Result<Bytes> {
        block_on(self.inner.global_request(name, data))
    }

    /// The server's host key.
    pub fn host_key(&self) -> Option<PublicKey> {
        self.inner.host_key()
    }

    /// The algorithms of the latest key exchange.
    pub fn algorithms(&self) -> Option<NegotiatedAlgorithms> {
        self.inner.algorithms()
    }

    /// Takes the banners received before authentication.
    pub fn take_banners(&self) -> Vec<String> {
        self.inner.take_banners()
    }

    /// The connection's RNG seed.
    pub fn rng_seed(&self) -> [u8; 32] {
        self.inner.rng_seed()
    }

    /// Whether authentication has succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.inner.is_authenticated()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Why the connection ended, if it has.
    pub fn disconnect_reason(&self) -> Option<Error> {
        self.inner.disconnect_reason()
    }

    /// Sends DISCONNECT and waits until the socket is closed.
    pub fn close(&self) {
        block_on(self.inner.close())
    }
}
