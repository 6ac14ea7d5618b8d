//! What an application configures for a client or server session, beyond
//! the core's protocol settings.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use conch_core::{ClientConfig, ServerConfig};

use crate::host_key::HostKeyPolicy;
use crate::server::ServerHandler;
use crate::startups::StartupLimits;

/// Options of a client session.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Protocol settings (algorithms, windows, keepalives ...).
    pub config: Arc<ClientConfig>,
    /// How the server's host key is verified. The default rejects every
    /// key, so this must be set.
    pub host_key_policy: HostKeyPolicy,
    /// Time allowed for each TCP connection attempt (per address), and
    /// then for the banner exchange and the key exchange up to the
    /// server's host key, as ssh's `ConnectTimeout` (not the host key
    /// question, which waits on the user). The
    /// protocol's own deadlines are in `config`: the handshake's
    /// (`transport.handshake_timeout`, failing the handshake with
    /// [`crate::Error::Timeout`]`("handshake")`) and each authentication
    /// answer's (`auth_timeout`, [`crate::Error::Timeout`]`("authentication")`).
    pub connect_timeout: Option<Duration>,
    /// How many times to try connecting (each time every address in
    /// turn, one second apart), as ssh's `ConnectionAttempts` (1).
    pub connection_attempts: u32,
    /// Which addresses of a name are tried (ssh's `AddressFamily`).
    pub address_family: AddressFamily,
    /// Connect through this command instead of TCP, as ssh's
    /// `ProxyCommand`: run with `sh -c` (tokens already expanded), its
    /// standard input and output are the connection (Unix only).
    pub proxy_command: Option<String>,
    /// Seed of the connection's RNG; `None` draws one from the OS. Fixing it
    /// makes a session reproducible (see [`crate::Session::rng_seed`]).
    pub rng_seed: Option<[u8; 32]>,
    /// Record a transcript of the session to this file, to replay it
    /// offline with `conch_core::record` (later sessions of the process
    /// recording to the same path write `PATH.2`, `PATH.3`, ...); `None`
    /// records only if the environment variable `CONCH_RECORD=PATH` is set. **Anyone with the
    /// transcript can decrypt the session** (passwords included): record
    /// on test systems or for bug reports you choose to share.
    pub record: Option<PathBuf>,
}

impl ClientOptions {
    /// Default protocol settings with this host key policy and a 30 s
    /// connect timeout (the handshake and authentication timers are the
    /// core's, in [`ClientConfig`]).
    ///
    /// The policy is anything that converts into a [`HostKeyPolicy`], e.g.
    /// conch-openssh's `KnownHostsVerifier::strict()?`.
    pub fn new(host_key_policy: impl Into<HostKeyPolicy>) -> Self {
        ClientOptions {
            config: Arc::new(ClientConfig::default()),
            host_key_policy: host_key_policy.into(),
            connect_timeout: Some(Duration::from_secs(30)),
            connection_attempts: 1,
            address_family: AddressFamily::Any,
            proxy_command: None,
            rng_seed: None,
            record: None,
        }
    }

    /// The protocol settings, to change one (copied first if the
    /// configuration is shared): e.g.
    /// `options.config_mut().transport.handshake_timeout = None`.
    pub fn config_mut(&mut self) -> &mut ClientConfig {
        Arc::make_mut(&mut self.config)
    }

    /// **Insecure** options that accept any host key
    /// ([`HostKeyPolicy::insecure_accept_any`]); for tests and demos only.
    pub fn insecure_accept_any_host_key() -> Self {
        Self::new(HostKeyPolicy::insecure_accept_any())
    }
}

impl Default for ClientOptions {
    /// Default settings with [`HostKeyPolicy::reject_all`].
    fn default() -> Self {
        Self::new(HostKeyPolicy::default())
    }
}

/// The addresses of a name a client tries (ssh's `AddressFamily`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressFamily {
    /// IPv4 and IPv6, in the resolver's order (`any`).
    #[default]
    Any,
    /// IPv4 only (`inet`, `ssh -4`).
    Inet,
    /// IPv6 only (`inet6`, `ssh -6`).
    Inet6,
}

impl AddressFamily {
    /// Keeps the addresses of this family, in order.
    pub fn filter(self, addrs: Vec<std::net::SocketAddr>) -> Vec<std::net::SocketAddr> {
        addrs
            .into_iter()
            .filter(|a| match self {
                AddressFamily::Any => true,
                AddressFamily::Inet => a.is_ipv4(),
                AddressFamily::Inet6 => a.is_ipv6(),
            })
            .collect()
    }
}

/// Options of a server: the protocol settings and the application's handler.
#[derive(Clone)]
pub struct ServerOptions {
    /// Protocol settings, host keys and offered auth methods.
    pub config: Arc<ServerConfig>,
    /// Decides authentication, channels and requests.
    pub handler: Arc<dyn ServerHandler>,
    /// Seed of each connection's RNG; `None` draws a fresh one from the OS
    /// per connection (the right choice outside tests).
    pub rng_seed: Option<[u8; 32]>,
    /// Record a transcript of each connection to `PATH.1`, `PATH.2`, ...
    /// (see [`ClientOptions::record`]); `None` records only if
    /// `CONCH_RECORD=PATH` is set. Server transcripts also hold the host
    /// **private** keys.
    pub record: Option<PathBuf>,
    /// The client's address, for [`crate::ServerHandler::auth_from`] (a
    /// certificate's `source-address`, PROTOCOL.certkeys). The listener
    /// sets it for each connection it accepts; with
    /// [`crate::runtime::serve_stream`] on a stream of your own, set it
    /// yourself.
    pub peer: Option<std::net::SocketAddr>,
    /// How many connections that have not authenticated yet a listener
    /// keeps, overall and per source address (sshd's `MaxStartups` and
    /// `PerSourceMaxStartups`); see [`crate::startups`].
    pub startup_limits: StartupLimits,
}

impl ServerOptions {
    /// A server with this configuration and handler.
    pub fn new(config: ServerConfig, handler: impl ServerHandler) -> Self {
        ServerOptions {
            config: Arc::new(config),
            handler: Arc::new(handler),
            rng_seed: None,
            record: None,
            peer: None,
            startup_limits: StartupLimits::default(),
        }
    }
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// An RNG seed drawn from the operating system.
pub(crate) fn os_seed() -> [u8; 32] {
    use rand_core::Rng;
    let mut seed = [0u8; 32];
    rand_core::UnwrapErr(getrandom::SysRng).fill_bytes(&mut seed);
    seed
}

/// The connection RNG for `seed`.
pub(crate) fn rng_from_seed(seed: [u8; 32]) -> conch_core::Rng {
    use rand_chacha::rand_core::SeedableRng;
    Box::new(rand_chacha::ChaCha20Rng::from_seed(seed))
}
