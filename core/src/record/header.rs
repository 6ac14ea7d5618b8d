//! The transcript header: what it takes to rebuild an identical
//! [`crate::Connection`] (role, configuration, RNG seed).

use std::sync::Arc;

use crate::config::{
    AlgorithmPreferences, ChannelConfig, ClientConfig, ServerConfig, TransportConfig,
};
use crate::crypto::CryptoProvider;
use crate::keys::{KeyError, PrivateKey};
use crate::transport::Side;

use super::codec::{Put, Reader};
use super::FormatError;

/// The first eight bytes of every transcript.
pub const MAGIC: &[u8; 8] = b"CONCHREC";

/// The format version this crate writes and reads.
/// Version 2 added the client's authentication answer timeout; version 3
/// the memory budget, `max_sessions` and the server's failure delay. A
/// version 2 transcript still replays, with the settings that did not
/// exist then off (no budget, no session limit, no delay), which is how it
/// was recorded. Version 4 added the compression list; older transcripts
/// replay with `none` alone, the only method there was.
pub const FORMAT_VERSION: u64 = 4;

/// The oldest version read.
const OLDEST_VERSION: u64 = 2;

const ROLE_CLIENT: u8 = 0;
const ROLE_SERVER: u8 = 1;

/// The configuration a recorded connection was built with, by role.
#[derive(Debug, Clone)]
pub enum RecordedConfig {
    /// A client connection.
    Client(Arc<ClientConfig>),
    /// A server connection (with its host private keys).
    Server(Arc<ServerConfig>),
}

impl RecordedConfig {
    /// The role.
    pub fn side(&self) -> Side {
        match self {
            RecordedConfig::Client(_) => Side::Client,
            RecordedConfig::Server(_) => Side::Server,
        }
    }

    /// The transport settings.
    pub fn transport(&self) -> &TransportConfig {
        match self {
            RecordedConfig::Client(c) => &c.transport,
            RecordedConfig::Server(c) => &c.transport,
        }
    }
}

/// Everything before the first record.
#[derive(Debug, Clone)]
pub struct Header {
    /// Role and configuration. The crypto provider is not recorded: a
    /// replay uses [`CryptoProvider::default`], so a connection built with
    /// another provider cannot be replayed.
    pub config: RecordedConfig,
    /// The seed of the connection's `ChaCha20Rng`.
    pub seed: [u8; 32],
}

impl Header {
    /// Encodes the header. Fails only if a server host key cannot be
    /// written as an `openssh-key-v1` document.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        out.raw(MAGIC);
        out.uvar(FORMAT_VERSION);
        match &self.config {
            RecordedConfig::Client(c) => {
                out.byte(ROLE_CLIENT);
                put_transport(out, &c.transport);
                put_channels(out, &c.channels);
                out.opt_duration(c.auth_timeout);
            }
            RecordedConfig::Server(c) => {
                out.byte(ROLE_SERVER);
                put_transport(out, &c.transport);
                put_channels(out, &c.channels);
                out.usize(c.host_keys.len());
                for key in &c.host_keys {
                    out.text(&key.to_openssh()?);
                }
                out.texts(&c.auth_methods);
                out.uvar(u64::from(c.max_auth_attempts));
                out.opt_text(c.auth_banner.as_deref());
                out.opt_duration(c.auth_failure_delay);
            }
        }
        out.raw(&self.seed);
        Ok(())
    }

    /// Decodes the header at the start of `r`.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        match r.raw(MAGIC.len(), "magic") {
            Ok(magic) if magic == MAGIC => {}
            _ => return Err(FormatError::NotATranscript),
        }
        let version = r.uvar("format version")?;
        if !(OLDEST_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(FormatError::UnsupportedVersion(version));
        }
        let role = r.byte("role")?;
        let config = match role {
            ROLE_CLIENT => {
                let transport = get_transport(r, version)?;
                let channels = get_channels(r, version)?;
                RecordedConfig::Client(Arc::new(ClientConfig {
                    transport,
                    channels,
                    auth_timeout: r.opt_duration("auth timeout")?,
                }))
            }
            ROLE_SERVER => {
                let transport = get_transport(r, version)?;
                let channels = get_channels(r, version)?;
                let n = r.usize("host key count")?;
                let mut host_keys = Vec::new();
                for _ in 0..n {
                    let at = r.pos();
                    let pem = r.text("host key")?;
                    let key = PrivateKey::from_openssh(pem.as_bytes(), None).map_err(|e| {
                        FormatError::Key {
                            offset: at,
                            error: e,
                        }
                    })?;
                    host_keys.push(key);
                }
                RecordedConfig::Server(Arc::new(ServerConfig {
                    transport,
                    channels,
                    host_keys,
                    auth_methods: r.texts("auth methods")?,
                    max_auth_attempts: r.u32("max auth attempts")?,
                    auth_banner: r.opt_text("auth banner")?,
                    auth_failure_delay: if version >= 3 {
                        r.opt_duration("auth failure delay")?
                    } else {
                        None
                    },
                }))
            }
            _ => return Err(r.invalid("role")),
        };
        let seed = r.array("seed")?;
        Ok(Header { config, seed })
    }
}

fn put_transport(out: &mut Vec<u8>, t: &TransportConfig) {
    out.texts(&t.algorithms.kex);
    out.texts(&t.algorithms.host_key);
    out.texts(&t.algorithms.cipher);
    out.texts(&t.algorithms.mac);
    out.text(&t.software_version);
    out.uvar(t.rekey_bytes);
    out.opt_duration(t.rekey_interval);
    out.opt_duration(t.keepalive_interval);
    out.uvar(u64::from(t.keepalive_max));
    out.opt_duration(t.handshake_timeout);
    out.uvar(u64::from(t.max_packet_len));
    out.flag(t.strict_kex);
    out.texts(&t.algorithms.compression);
}

fn get_transport(r: &mut Reader<'_>, version: u64) -> Result<TransportConfig, FormatError> {
    // Built field by field, without `..Default::default()`, so that a field
    // added to `TransportConfig` fails to compile here until the format
    // records it.
    let kex = r.texts("kex algorithms")?;
    let host_key = r.texts("host key algorithms")?;
    let cipher = r.texts("cipher algorithms")?;
    let mac = r.texts("MAC algorithms")?;
    let software_version = r.text("software version")?.to_string();
    let rekey_bytes = r.uvar("rekey bytes")?;
    let rekey_interval = r.opt_duration("rekey interval")?;
    let keepalive_interval = r.opt_duration("keepalive interval")?;
    let keepalive_max = r.u32("keepalive max")?;
    let handshake_timeout = r.opt_duration("handshake timeout")?;
    let max_packet_len = r.u32("max packet length")?;
    let strict_kex = r.flag("strict kex")?;
    let compression = if version >= 4 {
        r.texts("compression algorithms")?
    } else {
        vec![crate::config::COMPRESSION_NONE.to_string()]
    };
    Ok(TransportConfig {
        crypto: Arc::new(CryptoProvider::default()),
        algorithms: AlgorithmPreferences {
            kex,
            host_key,
            cipher,
            mac,
            compression,
        },
        software_version,
        rekey_bytes,
        rekey_interval,
        keepalive_interval,
        keepalive_max,
        handshake_timeout,
        max_packet_len,
        strict_kex,
    })
}

fn put_channels(out: &mut Vec<u8>, c: &ChannelConfig) {
    out.uvar(u64::from(c.window_size));
    out.uvar(u64::from(c.max_packet_size));
    out.uvar(u64::from(c.max_channels));
    out.usize(c.send_buffer_limit);
    out.usize(c.memory_budget);
    out.uvar(u64::from(c.max_sessions));
}

fn get_channels(r: &mut Reader<'_>, version: u64) -> Result<ChannelConfig, FormatError> {
    let window_size = r.u32("window size")?;
    let max_packet_size = r.u32("max packet size")?;
    let max_channels = r.u32("max channels")?;
    let send_buffer_limit = r.usize("send buffer limit")?;
    let (memory_budget, max_sessions) = if version >= 3 {
        (r.usize("memory budget")?, r.u32("max sessions")?)
    } else {
        (usize::MAX, u32::MAX)
    };
    Ok(ChannelConfig {
        window_size,
        max_packet_size,
        max_channels,
        send_buffer_limit,
        memory_budget,
        max_sessions,
    })
}
