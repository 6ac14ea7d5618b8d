//! sshd's forwarding options as a ready-made server policy:
//! `AllowTcpForwarding`, `AllowStreamLocalForwarding`, `PermitOpen`,
//! `PermitListen` and `GatewayPorts` (sshd_config(5)), for a
//! [`conch_driver::ServerHandler`]'s `direct_forward` and `remote_forward`.

use std::fmt;

use conch_driver::conch_core::{ChannelOpenFailure, Forward, ForwardChannel};

/// Which directions a kind of forwarding is allowed in
/// (`AllowTcpForwarding` / `AllowStreamLocalForwarding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowForwarding {
    /// Both (`yes`, sshd's default).
    Yes,
    /// Neither (`no`).
    No,
    /// Only the client's `direct-*` channels (`local`, `ssh -L`).
    Local,
    /// Only listeners for the client (`remote`, `ssh -R`).
    Remote,
}

impl AllowForwarding {
    /// Parses sshd's keywords (`all` is a synonym of `yes`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "yes" | "all" => Some(Self::Yes),
            "no" => Some(Self::No),
            "local" => Some(Self::Local),
            "remote" => Some(Self::Remote),
            _ => None,
        }
    }

    fn local(self) -> bool {
        matches!(self, Self::Yes | Self::Local)
    }

    fn remote(self) -> bool {
        matches!(self, Self::Yes | Self::Remote)
    }
}

/// Where remote-forward listeners bind (`GatewayPorts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayPorts {
    /// Loopback only, whatever the client asks (`no`, sshd's default).
    No,
    /// Every address, whatever the client asks (`yes`).
    Yes,
    /// The address the client names (`clientspecified`).
    ClientSpecified,
}

impl GatewayPorts {
    /// Parses sshd's keywords.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "no" => Some(Self::No),
            "yes" => Some(Self::Yes),
            "clientspecified" => Some(Self::ClientSpecified),
            _ => None,
        }
    }
}

/// One `PermitOpen` / `PermitListen` entry: a host (`None`: any, `*`) and a
/// port (`None`: any, `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitEntry {
    /// Host name or address as the client writes it; `None` for `*`.
    pub host: Option<String>,
    /// Port; `None` for `*`.
    pub port: Option<u32>,
}

impl PermitEntry {
    /// Parses `host:port`, `[v6]:port` or (`PermitListen` only, so
    /// `host_optional`) a bare `port`; `*` for either part means any.
    pub fn parse(s: &str, host_optional: bool) -> Result<Self, String> {
        let bad = || format!("bad permit entry {s:?}: expected host:port");
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (Some(h.trim_start_matches('[').trim_end_matches(']')), p),
            None if host_optional => (None, s),
            None => return Err(bad()),
        };
        let port = match port {
            "*" => None,
            p => Some(p.parse::<u16>().map_err(|_| bad())?.into()),
        };
        let host = host.filter(|h| *h != "*").map(str::to_string);
        Ok(PermitEntry { host, port })
    }

    fn allows(&self, host: &str, port: u32) -> bool {
        self.host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(host))
            && self.port.is_none_or(|p| p == port)
    }
}

/// A permit list: `any` (sshd's default), `none`, or entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permit {
    /// Everything (`any`).
    Any,
    /// Nothing (`none`).
    None,
    /// Only these.
    Only(Vec<PermitEntry>),
}

impl Permit {
    fn allows(&self, host: &str, port: u32) -> bool {
        match self {
            Permit::Any => true,
            Permit::None => false,
            Permit::Only(list) => list.iter().any(|e| e.allows(host, port)),
        }
    }
}

/// sshd's forwarding options; [`ForwardPolicy::default`] is sshd's defaults
/// (everything allowed, listeners on loopback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardPolicy {
    /// `AllowTcpForwarding`.
    pub tcp: AllowForwarding,
    /// `AllowStreamLocalForwarding`.
    pub streamlocal: AllowForwarding,
    /// `PermitOpen`: the targets of `direct-tcpip`.
    pub permit_open: Permit,
    /// `PermitListen`: the listeners of `tcpip-forward`.
    pub permit_listen: Permit,
    /// `GatewayPorts`.
    pub gateway_ports: GatewayPorts,
}

impl Default for ForwardPolicy {
    fn default() -> Self {
        ForwardPolicy {
            tcp: AllowForwarding::Yes,
            streamlocal: AllowForwarding::Yes,
            permit_open: Permit::Any,
            permit_listen: Permit::Any,
            gateway_ports: GatewayPorts::No,
        }
    }
}

/// What sshd answers a `direct-*` channel it will not open (ssh prints
/// "channel N: open failed: administratively prohibited: open failed").
fn prohibited() -> (ChannelOpenFailure, String) {
    (
        ChannelOpenFailure::AdministrativelyProhibited,
        "open failed".to_string(),
    )
}

impl ForwardPolicy {
    /// Nothing forwarded (`DisableForwarding yes`).
    pub fn none() -> Self {
        ForwardPolicy {
            tcp: AllowForwarding::No,
            streamlocal: AllowForwarding::No,
            ..Self::default()
        }
    }

    /// Decides a `direct-tcpip` / `direct-streamlocal@openssh.com` channel
    /// (for `ServerHandler::direct_forward`).
    pub fn direct(&self, target: &ForwardChannel) -> Result<(), (ChannelOpenFailure, String)> {
        let ok = match target {
            ForwardChannel::DirectTcpip { host, port, .. } => {
                self.tcp.local() && self.permit_open.allows(host, *port)
            }
            ForwardChannel::DirectStreamlocal { .. } => self.streamlocal.local(),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(prohibited())
        }
    }

    /// Decides a listen request (for `ServerHandler::remote_forward`): what
    /// to bind, or `None` to refuse. With `GatewayPorts no` a TCP listener
    /// binds the loopback addresses whatever was asked; with `yes` every
    /// address; with `clientspecified` the address asked (`""`/`*` every
    /// one, `localhost` loopback), as sshd's `channel_fwd_bind_addr` does.
    pub fn listen(&self, forward: &Forward) -> Option<Forward> {
        match forward {
            Forward::Tcpip { address, port } => {
                if !self.tcp.remote() || !self.permit_listen.allows(address, *port) {
                    return None;
                }
                let address = match self.gateway_ports {
                    GatewayPorts::No => "localhost".to_string(),
                    GatewayPorts::Yes => String::new(),
                    GatewayPorts::ClientSpecified => address.clone(),
                };
                Some(Forward::Tcpip {
                    address,
                    port: *port,
                })
            }
            Forward::Streamlocal { .. } => self.streamlocal.remote().then(|| forward.clone()),
        }
    }
}

impl fmt::Display for ForwardPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tcp {:?}, streamlocal {:?}, gateway ports {:?}",
            self.tcp, self.streamlocal, self.gateway_ports
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(host: &str, port: u32) -> ForwardChannel {
        ForwardChannel::DirectTcpip {
            host: host.into(),
            port,
            originator: "127.0.0.1".into(),
            originator_port: 1,
        }
    }

    fn tcp(address: &str, port: u32) -> Forward {
        Forward::Tcpip {
            address: address.into(),
            port,
        }
    }

    #[test]
    fn sshd_defaults_allow_everything_and_bind_loopback() {
        let p = ForwardPolicy::default();
        assert!(p.direct(&direct("db", 5432)).is_ok());
        // GatewayPorts no: the client's "0.0.0.0" becomes loopback.
        assert_eq!(
            p.listen(&tcp("0.0.0.0", 8080)),
            Some(tcp("localhost", 8080))
        );
        let none = ForwardPolicy::none();
        assert_eq!(
            none.direct(&direct("db", 5432)).unwrap_err().0,
            ChannelOpenFailure::AdministrativelyProhibited
        );
        assert_eq!(none.listen(&tcp("", 0)), None);
    }

    #[test]
    fn permit_open_and_listen_restrict_targets_and_ports() {
        let p = ForwardPolicy {
            permit_open: Permit::Only(vec![
                PermitEntry::parse("db:5432", false).unwrap(),
                PermitEntry::parse("*:80", false).unwrap(),
            ]),
            permit_listen: Permit::Only(vec![PermitEntry::parse("9000", true).unwrap()]),
            gateway_ports: GatewayPorts::ClientSpecified,
            ..ForwardPolicy::default()
        };
        assert!(p.direct(&direct("db", 5432)).is_ok());
        assert!(p.direct(&direct("web", 80)).is_ok());
        assert!(p.direct(&direct("db", 22)).is_err());
        assert_eq!(p.listen(&tcp("", 9000)), Some(tcp("", 9000)));
        assert_eq!(p.listen(&tcp("", 9001)), None);
        assert!(PermitEntry::parse("nohost", false).is_err());
        assert_eq!(
            PermitEntry::parse("[::1]:*", false).unwrap(),
            PermitEntry {
                host: Some("::1".into()),
                port: None
            }
        );
    }

    #[test]
    fn local_and_remote_allow_one_direction() {
        let local = ForwardPolicy {
            tcp: AllowForwarding::Local,
            ..ForwardPolicy::default()
        };
        assert!(local.direct(&direct("h", 1)).is_ok());
        assert_eq!(local.listen(&tcp("", 1)), None);
        let remote = ForwardPolicy {
            tcp: AllowForwarding::Remote,
            ..ForwardPolicy::default()
        };
        assert!(remote.direct(&direct("h", 1)).is_err());
        assert!(remote.listen(&tcp("", 1)).is_some());
    }
}
