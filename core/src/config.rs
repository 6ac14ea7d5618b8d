//! Configuration of a [`crate::Connection`], one struct per role with the
//! shared transport and channel settings inside.
//!
//! Defaults follow OpenSSH where it has a setting of the same meaning.

use std::sync::Arc;
use std::time::Duration;

use crate::crypto::CryptoProvider;
use crate::keys::PrivateKey;

/// Settings of the transport layer, the same for both roles.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The algorithm implementations available.
    pub crypto: Arc<CryptoProvider>,
    /// Algorithm names to offer, most preferred first, per negotiation slot.
    /// Every name must be one the provider implements.
    pub algorithms: AlgorithmPreferences,
    /// The software version part of our identification string
    /// (`SSH-2.0-<this>`, RFC 4253 section 4.2).
    pub software_version: String,
    /// Start a key re-exchange after this many bytes in either direction
    /// (OpenSSH `RekeyLimit`, default 1 GiB; RFC 4253 section 9 recommends 1 GiB).
    pub rekey_bytes: u64,
    /// Start a key re-exchange after this much time, if set (OpenSSH `RekeyLimit`'s
    /// second field; default 1 hour as RFC 4253 section 9 recommends).
    pub rekey_interval: Option<Duration>,
    /// Send a keepalive after this long without hearing from the peer
    /// (OpenSSH `ServerAliveInterval` / `ClientAliveInterval`; off by default).
    pub keepalive_interval: Option<Duration>,
    /// Disconnect after this many keepalives go unanswered (OpenSSH
    /// `ServerAliveCountMax`, default 3).
    pub keepalive_max: u32,
    /// Time allowed from the start until the first key exchange completes
    /// and then, on a client, until the server accepts the user
    /// authentication service (the host key decision included); on a
    /// server, until the client is authenticated (OpenSSH `LoginGraceTime`).
    /// 120 s for both roles: that is OpenSSH's `LoginGraceTime`, so a client
    /// waiting longer would only be cut off by the server, and `ssh` itself
    /// has no handshake limit beyond `ConnectTimeout`. Ends the connection
    /// with [`crate::TimeoutKind::Handshake`] (or, on a server after the key
    /// exchange, [`crate::TimeoutKind::LoginGrace`]).
    pub handshake_timeout: Option<Duration>,
    /// Largest packet we accept, in bytes, counting the length field, padding
    /// and MAC. 256 KiB as OpenSSH.
    pub max_packet_len: u32,
    /// Offer and enforce strict key exchange (OpenSSH `kex-strict-*-v00`,
    /// the Terrapin counter-measure). On by default.
    pub strict_kex: bool,
}

/// Algorithm names in preference order for each slot of KEXINIT
/// (RFC 4253 section 7.1). The same lists are used in both directions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmPreferences {
    /// Key exchange methods.
    pub kex: Vec<String>,
    /// Host key signature algorithms.
    pub host_key: Vec<String>,
    /// Ciphers.
    pub cipher: Vec<String>,
    /// MACs (not used with AEAD ciphers).
    pub mac: Vec<String>,
    /// Compression methods (RFC 4253 section 6.2): [`COMPRESSION_NONE`],
    /// [`COMPRESSION_ZLIB_OPENSSH`] (zlib from USERAUTH_SUCCESS on, OpenSSH
    /// PROTOCOL section 1.2) and [`COMPRESSION_ZLIB`] (zlib from the first
    /// NEWKEYS). Only `none` by default, for both roles: ssh's
    /// `Compression yes` is [`COMPRESSION_CLIENT_ON`], what sshd offers by
    /// default [`COMPRESSION_SERVER_ALLOWED`].
    pub compression: Vec<String>,
}

/// No compression.
pub const COMPRESSION_NONE: &str = "none";
/// zlib from the first NEWKEYS on (RFC 4253 section 6.2).
pub const COMPRESSION_ZLIB: &str = "zlib";
/// zlib from USERAUTH_SUCCESS on (OpenSSH PROTOCOL section 1.2), so that
/// no unauthenticated peer reaches the inflater.
pub const COMPRESSION_ZLIB_OPENSSH: &str = "zlib@openssh.com";
/// A client asking for compression, as ssh's `Compression yes` (OpenSSH
/// 9.2 `compression_alg_list`): delayed zlib, then zlib, else none.
pub const COMPRESSION_CLIENT_ON: &[&str] =
    &[COMPRESSION_ZLIB_OPENSSH, COMPRESSION_ZLIB, COMPRESSION_NONE];
/// A server allowing compression, as sshd's default `Compression yes`
/// (OpenSSH `KEX_DEFAULT_COMP`): none first, so a client that did not ask
/// gets none, and delayed zlib for one that did (the client's order wins,
/// RFC 4253 section 7.1).
pub const COMPRESSION_SERVER_ALLOWED: &[&str] = &[COMPRESSION_NONE, COMPRESSION_ZLIB_OPENSSH];

impl AlgorithmPreferences {
    /// Every algorithm the provider implements and enables by default, in
    /// the provider's preference order.
    pub fn defaults_for(crypto: &CryptoProvider) -> Self {
        crypto.default_preferences()
    }

    /// Sets the compression list to `names` (see [`Self::compression`]).
    pub fn set_compression(&mut self, names: &[&str]) {
        self.compression = names.iter().map(|n| n.to_string()).collect();
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        let crypto = Arc::new(CryptoProvider::default());
        TransportConfig {
            algorithms: AlgorithmPreferences::defaults_for(&crypto),
            crypto,
            software_version: concat!("Conch_", env!("CARGO_PKG_VERSION")).to_string(),
            rekey_bytes: 1 << 30,
            rekey_interval: Some(Duration::from_secs(3600)),
            keepalive_interval: None,
            keepalive_max: 3,
            handshake_timeout: Some(Duration::from_secs(120)),
            max_packet_len: 256 * 1024,
            strict_kex: true,
        }
    }
}

/// Output the peer's own messages made us queue (answers to its requests,
/// refusals of its channel opens, the core's or the application's) and
/// that has not been written yet, beyond which the connection ends (see
/// `connection::input`); part of [`ChannelConfig::memory_budget`].
pub(crate) const UNREAD_ANSWERS_LIMIT: usize = 1024 * 1024;

/// Settings of the connection protocol (RFC 4254).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Receive window we grant each channel, in bytes. OpenSSH uses 2 MiB.
    pub window_size: u32,
    /// Largest data packet we accept per channel (OpenSSH: 32 KiB). At most
    /// the transport's `max_packet_len` less 1 KiB: a larger value is
    /// lowered to that when the connection is made, so that a full data
    /// packet, with its headers, padding and MAC, fits what the transport
    /// accepts.
    pub max_packet_size: u32,
    /// Most channels open at once; further opens from the peer are refused
    /// with `resource shortage`, and ours fail with an API error.
    pub max_channels: u32,
    /// Bytes of outgoing messages queued (not yet handed to the socket) above
    /// which `send_data` accepts nothing more, so a stalled socket or a key
    /// exchange bounds memory.
    pub send_buffer_limit: usize,
    /// Bytes the peer may make us hold on this connection: the receive
    /// windows of all channels (what it may send before we consume it),
    /// plus the send buffer (`send_buffer_limit`) and the answers to its
    /// requests it leaves unread (1 MiB, after which the connection ends).
    /// What is left for windows after those two is shared out as channels
    /// open: room for 1,024 windows of 8 KiB is kept aside, and each new
    /// channel gets `window_size` or an eighth of what remains beyond that
    /// reserve, whichever is smaller, but never less than 8 KiB (or
    /// `window_size`, if smaller); so windows shrink as the budget fills,
    /// and an open once even that does not fit is refused with `resource
    /// shortage`. Windows are granted once and never grow, and a closed
    /// channel's comes back to the budget. 32 MiB by default: the first
    /// four channels get the full 2 MiB window, about 40 more ever smaller
    /// ones, then about 1,030 of 8 KiB, all with their windows unused, fit
    /// before opens are refused (more when they are smaller). OpenSSH has
    /// no such budget: its memory grows with every channel a peer opens.
    pub memory_budget: usize,
    /// Most `session` channels the peer may have open at once (OpenSSH
    /// `MaxSessions`); further ones are refused with `connect failed`, as
    /// sshd does. 64 by default (OpenSSH: 10), so a client running 50
    /// commands at once on one connection is not turned away: the memory
    /// budget, not this count, is what bounds memory.
    pub max_sessions: u32,
}

/// Room kept between a channel's largest data packet and the transport's
/// largest packet, for what wraps the data: the length, padding and message
/// number bytes, the channel number, the data's length and type (extended
/// data), up to 255 bytes of padding and the MAC (RFC 4253 section 6,
/// RFC 4254 section 5.2). OpenSSH keeps a like margin below its 256 KiB.
const CHANNEL_PACKET_MARGIN: u32 = 1024;

impl ChannelConfig {
    /// This configuration with `max_packet_size` lowered, if need be, so a
    /// full data packet fits a transport packet of `max_packet_len` bytes.
    pub(crate) fn fitted_to(&self, max_packet_len: u32) -> ChannelConfig {
        let limit = max_packet_len.saturating_sub(CHANNEL_PACKET_MARGIN).max(1);
        ChannelConfig {
            max_packet_size: self.max_packet_size.min(limit),
            ..self.clone()
        }
    }
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            window_size: 2 * 1024 * 1024,
            max_packet_size: 32 * 1024,
            max_channels: 8192,
            send_buffer_limit: 1024 * 1024,
            memory_budget: 32 * 1024 * 1024,
            max_sessions: 64,
        }
    }
}

/// Configuration of the client role.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Transport settings.
    pub transport: TransportConfig,
    /// Channel settings.
    pub channels: ChannelConfig,
    /// Time the server has to answer each authentication request (and
    /// re-armed by every new one); when it passes the connection ends with
    /// [`crate::TimeoutKind::Authentication`]. Time the connection waits on
    /// the application (a signature, prompt answers, a new password) does
    /// not count: the timer runs only while a request is unanswered.
    /// Keepalives start only after authentication, so this is what notices
    /// a server that stops answering before. Default 120 s: OpenSSH's
    /// `LoginGraceTime` is 120 s, so waiting longer for one answer is never
    /// useful.
    pub auth_timeout: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            transport: TransportConfig::default(),
            channels: ChannelConfig::default(),
            auth_timeout: Some(Duration::from_secs(120)),
        }
    }
}

/// Configuration of the server role.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Transport settings.
    pub transport: TransportConfig,
    /// Channel settings.
    pub channels: ChannelConfig,
    /// Host keys; at least one. The first whose algorithm the client accepts is used.
    pub host_keys: Vec<PrivateKey>,
    /// Authentication methods offered, in the order listed to clients.
    pub auth_methods: Vec<String>,
    /// Failed authentication attempts allowed before disconnecting (OpenSSH
    /// `MaxAuthTries`, 6).
    pub max_auth_attempts: u32,
    /// Banner sent before authentication (RFC 4252 section 5.4), if any.
    pub auth_banner: Option<String>,
    /// Least time from an authentication request to its failure answer, as
    /// OpenSSH's sshd: this plus up to 4.29 ms derived from the user name
    /// (and a secret drawn from the connection's RNG), doubled until it is
    /// longer than the application took to decide. So a request for a user
    /// that does not exist is answered after the same time as one with a
    /// wrong password (the application should spend comparable time on
    /// both), and guesses on one connection are paced. Requests that arrive
    /// meanwhile wait. The `none` method, which clients send first to learn
    /// the methods, is answered at once, as sshd does. Default 5 ms
    /// (OpenSSH's `MIN_FAIL_DELAY_SECONDS`); `None` answers at once.
    pub auth_failure_delay: Option<Duration>,
}

impl ServerConfig {
    /// A server configuration with these host keys and defaults otherwise.
    pub fn new(host_keys: Vec<PrivateKey>) -> Self {
        ServerConfig {
            transport: TransportConfig::default(),
            channels: ChannelConfig::default(),
            host_keys,
            auth_methods: vec![
                "publickey".to_string(),
                "password".to_string(),
                "keyboard-interactive".to_string(),
            ],
            max_auth_attempts: 6,
            auth_banner: None,
            auth_failure_delay: Some(Duration::from_millis(5)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_packets_are_fitted_to_transport_packets() {
        let wide = ChannelConfig {
            max_packet_size: 1 << 20,
            ..ChannelConfig::default()
        };
        assert_eq!(wide.fitted_to(256 * 1024).max_packet_size, 255 * 1024);
        // OpenSSH's 32 KiB is left alone, as is everything else.
        let default = ChannelConfig::default();
        assert_eq!(default.fitted_to(256 * 1024), default);
        // A transport limit below the margin still leaves a usable size.
        assert_eq!(wide.fitted_to(100).max_packet_size, 1);
    }
}
