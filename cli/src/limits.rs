//! `conchd`'s limits against abusive clients, each an sshd_config(5)
//! keyword: `MaxStartups`, `PerSourceMaxStartups`, `MaxSessions`,
//! `MaxAuthTries`, `LoginGraceTime`, `Compression` (what reaches the
//! inflater), and the per-connection memory budget sshd does not have.

use std::time::Duration;

use conch_core::{ChannelConfig, ServerConfig, TransportConfig};
use conch_driver::StartupLimits;

/// The limits a conchd applies; the library's defaults unless a flag says
/// otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `--max-startups` and `--per-source-max-startups`.
    pub startups: StartupLimits,
    /// `--max-sessions`.
    pub max_sessions: u32,
    /// `--memory-budget`.
    pub memory_budget: usize,
    /// `--max-auth-tries`.
    pub max_auth_tries: u32,
    /// `--login-grace-time` (`None`: no limit, as sshd's 0).
    pub login_grace_time: Option<Duration>,
    /// `--compression yes|delayed|no`: whether clients that ask get
    /// `zlib@openssh.com` (compression after authentication). Yes by
    /// default, as sshd's `Compression`: the offer is sshd's
    /// `none,zlib@openssh.com`, so a client that does not ask gets none.
    pub compression: bool,
}

impl Default for Limits {
    fn default() -> Self {
        let server = ServerConfig::new(Vec::new());
        Limits {
            startups: StartupLimits::default(),
            max_sessions: ChannelConfig::default().max_sessions,
            memory_budget: ChannelConfig::default().memory_budget,
            max_auth_tries: server.max_auth_attempts,
            login_grace_time: TransportConfig::default().handshake_timeout,
            compression: true,
        }
    }
}

/// The flags' lines of conchd's help text.
pub const FLAGS_USAGE: &str = "\
      --max-startups START:RATE:FULL  unauthenticated connections: refuse
                           RATE% past START, more up to all at FULL (10:30:100)
      --per-source-max-startups N|none  unauthenticated connections per
                           source address (5)
      --max-sessions N     session channels per connection (64)
      --memory-budget SIZE what one connection may make the server buffer,
                           bytes or with K/M/G (32M)
      --max-auth-tries N   failed authentications before disconnecting (6)
      --login-grace-time SECS  time to log in, 0 for none (120)
      --compression yes|delayed|no  zlib@openssh.com, after authentication,
                           for clients that ask (ssh -C); delayed is yes (yes)";

/// The limit flags, without their dashes.
const FLAGS: [&str; 7] = [
    "max-startups",
    "per-source-max-startups",
    "max-sessions",
    "memory-budget",
    "max-auth-tries",
    "login-grace-time",
    "compression",
];

/// Whether `--name` is one of the limit flags.
pub fn is_flag(name: &str) -> bool {
    FLAGS.contains(&name)
}

impl Limits {
    /// Takes one of the limit flags (`name` without the dashes); `Ok(false)`
    /// if `name` is not one.
    pub fn parse_flag(
        &mut self,
        name: &str,
        value: impl FnOnce() -> Result<String, String>,
    ) -> Result<bool, String> {
        let number = |v: String| {
            v.parse::<u32>()
                .map_err(|e| format!("bad --{name} {v:?}: {e}"))
        };
        match name {
            "max-startups" => self.startups.parse_max_startups(&value()?)?,
            "per-source-max-startups" => {
                let v = value()?;
                self.startups.per_source = if v == "none" { None } else { Some(number(v)?) };
            }
            "max-sessions" => self.max_sessions = number(value()?)?,
            "max-auth-tries" => self.max_auth_tries = number(value()?)?,
            "memory-budget" => self.memory_budget = parse_size(&value()?)?,
            "login-grace-time" => {
                let secs = number(value()?)?;
                self.login_grace_time = (secs > 0).then(|| Duration::from_secs(secs.into()));
            }
            "compression" => {
                // sshd_config(5): `delayed` is a legacy synonym for yes.
                self.compression = match value()?.as_str() {
                    "yes" | "delayed" => true,
                    "no" => false,
                    v => return Err(format!("bad --compression {v:?}: want yes or no")),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Puts the protocol's limits into `config`.
    pub fn apply(&self, config: &mut ServerConfig) {
        config.channels.max_sessions = self.max_sessions;
        config.channels.memory_budget = self.memory_budget;
        config.max_auth_attempts = self.max_auth_tries;
        config.transport.handshake_timeout = self.login_grace_time;
        // sshd's offer (OpenSSH `KEX_DEFAULT_COMP`); plain zlib, which
        // would reach the inflater before authentication, is not offered.
        config
            .transport
            .algorithms
            .set_compression(if self.compression {
                conch_core::config::COMPRESSION_SERVER_ALLOWED
            } else {
                &[conch_core::config::COMPRESSION_NONE]
            });
    }
}

/// Bytes, optionally with a K, M or G suffix (powers of 1024).
fn parse_size(text: &str) -> Result<usize, String> {
    let (digits, shift) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 10),
        Some((i, 'M' | 'm')) => (&text[..i], 20),
        Some((i, 'G' | 'g')) => (&text[..i], 30),
        _ => (text, 0),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| {
            format!("bad --memory-budget {text:?}: want bytes, or a number and K, M or G")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[(&str, &str)]) -> Result<Limits, String> {
        let mut limits = Limits::default();
        for (name, value) in flags {
            assert!(limits.parse_flag(name, || Ok(value.to_string()))?);
        }
        Ok(limits)
    }

    #[test]
    fn flags_set_each_limit() {
        let l = parse(&[
            ("max-startups", "3:50:9"),
            ("per-source-max-startups", "none"),
            ("max-sessions", "2"),
            ("memory-budget", "8M"),
            ("max-auth-tries", "3"),
            ("login-grace-time", "0"),
        ])
        .unwrap();
        assert_eq!(
            (l.startups.start, l.startups.rate, l.startups.full),
            (3, 50, 9)
        );
        assert_eq!(l.startups.per_source, None);
        assert_eq!(l.max_sessions, 2);
        assert_eq!(l.memory_budget, 8 << 20);
        assert_eq!(l.login_grace_time, None);
        let mut config = ServerConfig::new(Vec::new());
        l.apply(&mut config);
        assert_eq!(config.max_auth_attempts, 3);
        assert_eq!(config.channels.max_sessions, 2);
        // Compression: sshd's offer by default, none when turned off.
        assert_eq!(
            config.transport.algorithms.compression,
            ["none", "zlib@openssh.com"]
        );
        let l = parse(&[("compression", "no")]).unwrap();
        l.apply(&mut config);
        assert_eq!(config.transport.algorithms.compression, ["none"]);
        assert!(parse(&[("compression", "delayed")]).unwrap().compression);
        assert!(parse(&[("compression", "maybe")]).is_err());
        assert!(parse(&[("memory-budget", "lots")]).is_err());
        assert!(parse(&[("max-startups", "10:30")]).is_err());
        assert!(!Limits::default()
            .parse_flag("port", || Ok(String::new()))
            .unwrap());
    }
}
