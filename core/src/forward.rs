//! Port forwarding's wire forms: the global requests that ask a peer to
//! listen (RFC 4254 section 7.1, `tcpip-forward`; OpenSSH PROTOCOL section
//! 2.4, `streamlocal-forward@openssh.com`) and the channels that carry one
//! forwarded connection (RFC 4254 sections 7.1 and 7.2, OpenSSH PROTOCOL
//! section 2.4).
//!
//! The connection uses them to keep the client's list of forwards the server
//! agreed to, so a `forwarded-*` channel matching none is refused before the
//! application hears of it (as OpenSSH's client does), and to put the
//! allocated port in the server's reply to a `tcpip-forward` for port 0.
//! Applications use them to decode [`crate::Event::GlobalRequest`] and
//! [`crate::ChannelEvent::OpenRequest`] and to build their calls.

use crate::wire::{DecodeError, Encode, Reader};

/// `tcpip-forward` (RFC 4254 section 7.1).
pub const TCPIP_FORWARD: &str = "tcpip-forward";
/// `cancel-tcpip-forward` (RFC 4254 section 7.1).
pub const CANCEL_TCPIP_FORWARD: &str = "cancel-tcpip-forward";
/// `streamlocal-forward@openssh.com` (OpenSSH PROTOCOL section 2.4).
pub const STREAMLOCAL_FORWARD: &str = "streamlocal-forward@openssh.com";
/// `cancel-streamlocal-forward@openssh.com` (OpenSSH PROTOCOL section 2.4).
pub const CANCEL_STREAMLOCAL_FORWARD: &str = "cancel-streamlocal-forward@openssh.com";

/// `direct-tcpip` (RFC 4254 section 7.2).
pub const DIRECT_TCPIP: &str = "direct-tcpip";
/// `forwarded-tcpip` (RFC 4254 section 7.1).
pub const FORWARDED_TCPIP: &str = "forwarded-tcpip";
/// `direct-streamlocal@openssh.com` (OpenSSH PROTOCOL section 2.4).
pub const DIRECT_STREAMLOCAL: &str = "direct-streamlocal@openssh.com";
/// `forwarded-streamlocal@openssh.com` (OpenSSH PROTOCOL section 2.4).
pub const FORWARDED_STREAMLOCAL: &str = "forwarded-streamlocal@openssh.com";

/// `auth-agent-req@openssh.com`, the channel request asking for agent
/// forwarding (OpenSSH PROTOCOL.agent).
pub const AUTH_AGENT_REQ: &str = "auth-agent-req@openssh.com";
/// `auth-agent@openssh.com`, the channel the server opens for each
/// connection to its forwarded agent socket (OpenSSH PROTOCOL.agent). It
/// carries no type-specific data.
pub const AUTH_AGENT: &str = "auth-agent@openssh.com";

/// A listener one side asks the other to open (a remote forward, `ssh -R`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Forward {
    /// Listen on TCP `address:port`; port 0 asks the server to pick one.
    /// The address is as RFC 4254 section 7.1 has it: `""` all protocol
    /// families, `"0.0.0.0"`, `"::"`, `"localhost"`, or one address.
    Tcpip {
        /// Address to bind.
        address: String,
        /// Port to bind (0: any).
        port: u32,
    },
    /// Listen on a Unix-domain socket at `path`.
    Streamlocal {
        /// Socket path on the server.
        path: String,
    },
}

impl Forward {
    /// The global request name asking for this forward, or cancelling it.
    pub fn request_name(&self, cancel: bool) -> &'static str {
        match (self, cancel) {
            (Forward::Tcpip { .. }, false) => TCPIP_FORWARD,
            (Forward::Tcpip { .. }, true) => CANCEL_TCPIP_FORWARD,
            (Forward::Streamlocal { .. }, false) => STREAMLOCAL_FORWARD,
            (Forward::Streamlocal { .. }, true) => CANCEL_STREAMLOCAL_FORWARD,
        }
    }

    /// The request-specific data of the global request.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::new();
        match self {
            Forward::Tcpip { address, port } => {
                w.put_str(address);
                w.put_u32(*port);
            }
            Forward::Streamlocal { path } => w.put_str(path),
        }
        w
    }

    /// Decodes a global request: `None` if `name` is not one of the four
    /// forwarding requests, else the forward and whether it is a cancel.
    pub fn decode(name: &str, data: &[u8]) -> Option<Result<(Forward, bool), DecodeError>> {
        let (tcp, cancel) = match name {
            TCPIP_FORWARD => (true, false),
            CANCEL_TCPIP_FORWARD => (true, true),
            STREAMLOCAL_FORWARD => (false, false),
            CANCEL_STREAMLOCAL_FORWARD => (false, true),
            _ => return None,
        };
        let mut r = Reader::new(data);
        Some((|| {
            let forward = if tcp {
                Forward::Tcpip {
                    address: r.utf8()?.to_string(),
                    port: r.u32()?,
                }
            } else {
                Forward::Streamlocal {
                    path: r.utf8()?.to_string(),
                }
            };
            // OpenSSH PROTOCOL 2.4: a `reserved` field may follow the
            // streamlocal path in some versions; tolerate trailing data.
            Ok((forward, cancel))
        })())
    }
}

/// The type-specific part of a channel carrying one forwarded connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardChannel {
    /// `direct-tcpip`: the client asks the server to connect to
    /// `host:port` (local and dynamic forwarding, `ssh -W`).
    DirectTcpip {
        /// Host to connect to.
        host: String,
        /// Port to connect to.
        port: u32,
        /// Address the connection came from on the client's side.
        originator: String,
        /// Its port.
        originator_port: u32,
    },
    /// `forwarded-tcpip`: the server hands over a connection accepted on a
    /// listener the client asked for with [`Forward::Tcpip`].
    ForwardedTcpip {
        /// The address that was connected (the listener's).
        address: String,
        /// The port that was connected (the listener's).
        port: u32,
        /// Address of the connecting peer.
        originator: String,
        /// Its port.
        originator_port: u32,
    },
    /// `direct-streamlocal@openssh.com`: connect to the Unix socket `path`.
    DirectStreamlocal {
        /// Socket path on the server.
        path: String,
    },
    /// `forwarded-streamlocal@openssh.com`: a connection accepted on the
    /// Unix-socket listener `path` the client asked for.
    ForwardedStreamlocal {
        /// The listener's path.
        path: String,
    },
    /// `auth-agent@openssh.com`: the server hands over a connection to the
    /// agent socket it made for a session whose client sent
    /// `auth-agent-req@openssh.com` (OpenSSH PROTOCOL.agent); the client
    /// relays it to its agent.
    AuthAgent,
}

impl ForwardChannel {
    /// The channel type.
    pub fn kind(&self) -> &'static str {
        match self {
            ForwardChannel::DirectTcpip { .. } => DIRECT_TCPIP,
            ForwardChannel::ForwardedTcpip { .. } => FORWARDED_TCPIP,
            ForwardChannel::DirectStreamlocal { .. } => DIRECT_STREAMLOCAL,
            ForwardChannel::ForwardedStreamlocal { .. } => FORWARDED_STREAMLOCAL,
            ForwardChannel::AuthAgent => AUTH_AGENT,
        }
    }

    /// The type-specific data of the CHANNEL_OPEN.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::new();
        match self {
            ForwardChannel::DirectTcpip {
                host: a,
                port: p,
                originator,
                originator_port,
            }
            | ForwardChannel::ForwardedTcpip {
                address: a,
                port: p,
                originator,
                originator_port,
            } => {
                w.put_str(a);
                w.put_u32(*p);
                w.put_str(originator);
                w.put_u32(*originator_port);
            }
            ForwardChannel::DirectStreamlocal { path } => {
                w.put_str(path);
                // OpenSSH PROTOCOL 2.4: "reserved" string and uint32.
                w.put_str("");
                w.put_u32(0);
            }
            ForwardChannel::ForwardedStreamlocal { path } => {
                w.put_str(path);
                // OpenSSH PROTOCOL 2.4: a "reserved" string.
                w.put_str("");
            }
            // OpenSSH PROTOCOL.agent: no type-specific data.
            ForwardChannel::AuthAgent => {}
        }
        w
    }

    /// Decodes a channel open: `None` if `kind` is not one of the
    /// forwarding channel types (the four of port forwarding and the agent's).
    pub fn decode(kind: &str, data: &[u8]) -> Option<Result<ForwardChannel, DecodeError>> {
        let mut r = Reader::new(data);
        let tcp = |r: &mut Reader<'_>| -> Result<(String, u32, String, u32), DecodeError> {
            let a = r.utf8()?.to_string();
            let p = r.u32()?;
            let o = r.utf8()?.to_string();
            let op = r.u32()?;
            Ok((a, p, o, op))
        };
        Some(match kind {
            DIRECT_TCPIP => tcp(&mut r).map(|(host, port, originator, originator_port)| {
                ForwardChannel::DirectTcpip {
                    host,
                    port,
                    originator,
                    originator_port,
                }
            }),
            FORWARDED_TCPIP => tcp(&mut r).map(|(address, port, originator, originator_port)| {
                ForwardChannel::ForwardedTcpip {
                    address,
                    port,
                    originator,
                    originator_port,
                }
            }),
            // The reserved fields after the path are ignored.
            DIRECT_STREAMLOCAL => r.utf8().map(|p| ForwardChannel::DirectStreamlocal {
                path: p.to_string(),
            }),
            FORWARDED_STREAMLOCAL => r.utf8().map(|p| ForwardChannel::ForwardedStreamlocal {
                path: p.to_string(),
            }),
            AUTH_AGENT => r.end().map(|()| ForwardChannel::AuthAgent),
            _ => return None,
        })
    }
}

/// The forwards the peer agreed to open for us, to check the `forwarded-*`
/// channels it opens against (OpenSSH's client refuses one that matches no
/// forward it asked for: "WARNING: Server requests forwarding for unknown
/// listen_port").
#[derive(Debug, Default)]
pub(crate) struct ActiveForwards {
    /// Each forward as asked, with the port the peer bound for port 0.
    list: Vec<(Forward, u32)>,
}

/// Most forwards kept per connection; a client asking for more is refused
/// by its own connection (the peer would hold a listener for each).
pub(crate) const MAX_FORWARDS: usize = 1024;

impl ActiveForwards {
    /// The peer agreed to `forward`; `reply` is its REQUEST_SUCCESS data
    /// (the allocated port for a TCP forward asked on port 0, RFC 4254
    /// section 7.1).
    pub(crate) fn added(&mut self, forward: Forward, reply: &[u8]) {
        let bound = match &forward {
            Forward::Tcpip { port: 0, .. } => Reader::new(reply).u32().unwrap_or(0),
            Forward::Tcpip { port, .. } => *port,
            Forward::Streamlocal { .. } => 0,
        };
        if self.list.len() < MAX_FORWARDS {
            self.list.push((forward, bound));
        }
    }

    /// The forward was cancelled.
    pub(crate) fn removed(&mut self, forward: &Forward) {
        self.list.retain(|(f, bound)| match (f, forward) {
            (
                Forward::Tcpip { address, port },
                Forward::Tcpip {
                    address: a,
                    port: p,
                },
            ) => !(address == a && (port == p || bound == p)),
            _ => f != forward,
        });
    }

    /// Whether a `forwarded-*` channel matches a forward we have. A TCP
    /// channel matches on the port bound (servers name the address in
    /// their own way: OpenSSH echoes the request's, others the bound one).
    pub(crate) fn matches(&self, channel: &ForwardChannel) -> bool {
        self.list.iter().any(|(f, bound)| match (f, channel) {
            (Forward::Tcpip { .. }, ForwardChannel::ForwardedTcpip { port, .. }) => bound == port,
            (Forward::Streamlocal { path }, ForwardChannel::ForwardedStreamlocal { path: p }) => {
                path == p
            }
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_channels_round_trip() {
        for f in [
            Forward::Tcpip {
                address: "localhost".into(),
                port: 0,
            },
            Forward::Streamlocal {
                path: "/tmp/s".into(),
            },
        ] {
            for cancel in [false, true] {
                let got = Forward::decode(f.request_name(cancel), &f.encode());
                assert_eq!(got, Some(Ok((f.clone(), cancel))));
            }
        }
        assert_eq!(Forward::decode("keepalive@openssh.com", b""), None);
        for c in [
            ForwardChannel::DirectTcpip {
                host: "db".into(),
                port: 5432,
                originator: "127.0.0.1".into(),
                originator_port: 40000,
            },
            ForwardChannel::ForwardedTcpip {
                address: "".into(),
                port: 8080,
                originator: "::1".into(),
                originator_port: 1,
            },
            ForwardChannel::DirectStreamlocal {
                path: "/run/x.sock".into(),
            },
            ForwardChannel::ForwardedStreamlocal {
                path: "/run/y.sock".into(),
            },
        ] {
            assert_eq!(ForwardChannel::decode(c.kind(), &c.encode()), Some(Ok(c)));
        }
        assert!(matches!(
            ForwardChannel::decode(DIRECT_TCPIP, b"\0\0\0\x05ab"),
            Some(Err(_))
        ));
    }

    #[test]
    fn a_port_zero_forward_matches_the_port_the_server_allocated() {
        let mut active = ActiveForwards::default();
        let f = Forward::Tcpip {
            address: "localhost".into(),
            port: 0,
        };
        active.added(f.clone(), &40123u32.to_be_bytes());
        let chan = |port| ForwardChannel::ForwardedTcpip {
            address: "127.0.0.1".into(),
            port,
            originator: "127.0.0.1".into(),
            originator_port: 5,
        };
        assert!(active.matches(&chan(40123)));
        assert!(!active.matches(&chan(40124)));
        // Cancelling names the forward by its allocated port, as ssh does.
        active.removed(&Forward::Tcpip {
            address: "localhost".into(),
            port: 40123,
        });
        assert!(!active.matches(&chan(40123)));
    }
}
