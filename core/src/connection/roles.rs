//! [`ClientConnection`] and [`ServerConnection`]: a [`Connection`] of a
//! known role, holding the mutators only that role may call, so that
//! calling the other role's is a compile error rather than an
//! [`ApiMisuse::WrongRole`] at run time (as rustls splits its
//! `ClientConnection` and `ServerConnection` over a common part).
//!
//! Both dereference to [`Connection`] for everything the roles share
//! (input, output, channels, `apply`). Code that keeps one `Connection`
//! for either role (the driver, say) converts with `into()` and reaches
//! the role's calls through [`Connection::apply`], whose runtime role
//! check remains for commands that arrive as values (replay, fuzzing).

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

use crate::auth::AuthDecision;
use crate::command::Command;
use crate::error::ApiMisuse;
#[cfg(doc)]
use crate::event::{ChannelEvent, Event};
use crate::event::{ChannelId, ChannelRequest};
use crate::keys::PublicKey;

use super::Connection;

/// A client [`Connection`], from [`Connection::client`]: the host key
/// decision and the authentication attempts are its own.
///
/// ```no_run
/// # use std::{sync::Arc, time::Instant};
/// # use conch_core::{ClientConfig, Connection};
/// # let (rng, now) = (conch_core::record::seeded_rng([0; 32]), Instant::now());
/// let mut client = Connection::client(Arc::new(ClientConfig::default()), rng, now);
/// client.accept_host_key()?; // the client's call
/// client.open_session()?; // the Connection's, through `Deref`
/// # Ok::<(), conch_core::ApiMisuse>(())
/// ```
///
/// The server's call does not compile on it:
///
/// ```compile_fail
/// # use std::{sync::Arc, time::Instant};
/// # use conch_core::{AuthDecision, ClientConfig, Connection};
/// # let (rng, now) = (conch_core::record::seeded_rng([0; 32]), Instant::now());
/// let mut client = Connection::client(Arc::new(ClientConfig::default()), rng, now);
/// client.auth_decision(AuthDecision::Accept)?;
/// # Ok::<(), conch_core::ApiMisuse>(())
/// ```
#[derive(Debug)]
pub struct ClientConnection {
    conn: Connection,
}

/// A server [`Connection`], from [`Connection::server`]: the decision on
/// each authentication request is its own.
///
/// ```no_run
/// # use std::{sync::Arc, time::Instant};
/// # use conch_core::{AuthDecision, Connection, PrivateKey, ServerConfig};
/// # let (mut rng, now) = (conch_core::record::seeded_rng([0; 32]), Instant::now());
/// # let key = PrivateKey::generate_ed25519(&mut *rng);
/// let mut server = Connection::server(Arc::new(ServerConfig::new(vec![key])), rng, now);
/// server.auth_decision(AuthDecision::Accept)?;
/// # Ok::<(), conch_core::ApiMisuse>(())
/// ```
///
/// The client's calls do not compile on it:
///
/// ```compile_fail
/// # use std::{sync::Arc, time::Instant};
/// # use conch_core::{Connection, PrivateKey, ServerConfig};
/// # let (mut rng, now) = (conch_core::record::seeded_rng([0; 32]), Instant::now());
/// # let key = PrivateKey::generate_ed25519(&mut *rng);
/// let mut server = Connection::server(Arc::new(ServerConfig::new(vec![key])), rng, now);
/// server.accept_host_key()?;
/// # Ok::<(), conch_core::ApiMisuse>(())
/// ```
#[derive(Debug)]
pub struct ServerConnection {
    conn: Connection,
}

macro_rules! role_wrapper {
    ($role:ident) => {
        impl $role {
            pub(super) fn new(conn: Connection) -> Self {
                $role { conn }
            }

            /// The connection, without its role's calls (which stay
            /// reachable through [`Connection::apply`]).
            pub fn into_inner(self) -> Connection {
                self.conn
            }
        }

        impl Deref for $role {
            type Target = Connection;
            fn deref(&self) -> &Connection {
                &self.conn
            }
        }

        impl DerefMut for $role {
            fn deref_mut(&mut self) -> &mut Connection {
                &mut self.conn
            }
        }

        impl From<$role> for Connection {
            fn from(role: $role) -> Connection {
                role.conn
            }
        }
    };
}

role_wrapper!(ClientConnection);
role_wrapper!(ServerConnection);

impl ClientConnection {
    /// Accepts the host key from [`Event::HostKey`].
    pub fn accept_host_key(&mut self) -> Result<(), ApiMisuse> {
        self.conn.apply(Command::AcceptHostKey).map(drop)
    }

    /// Rejects the host key from [`Event::HostKey`]: the connection ends
    /// with DISCONNECT `host key not verifiable` and
    /// [`crate::Error::HostKeyRejected`].
    pub fn reject_host_key(&mut self) -> Result<(), ApiMisuse> {
        self.conn.apply(Command::RejectHostKey).map(drop)
    }

    /// Tries authentication method `none` (mostly to learn the methods).
    pub fn auth_none(&mut self, user: &str) -> Result<(), ApiMisuse> {
        self.conn
            .apply(Command::AuthNone { user: user.into() })
            .map(drop)
    }

    /// Tries a password (RFC 4252 section 8).
    pub fn auth_password(&mut self, user: &str, password: &str) -> Result<(), ApiMisuse> {
        self.conn
            .apply(Command::AuthPassword {
                user: user.into(),
                password: password.into(),
            })
            .map(drop)
    }

    /// Answers [`Event::AuthPasswordChange`].
    pub fn auth_change_password(&mut self, old: &str, new: &str) -> Result<(), ApiMisuse> {
        self.conn
            .apply(Command::AuthChangePassword {
                old: old.into(),
                new: new.into(),
            })
            .map(drop)
    }

    /// Offers a public key (RFC 4252 section 7). The server is asked first
    /// without a signature; if it accepts the key,
    /// [`Event::AuthSignatureNeeded`] asks for the signature.
    pub fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<(), ApiMisuse> {
        self.conn
            .apply(Command::AuthPublickey {
                user: user.into(),
                key: Cow::Borrowed(key),
            })
            .map(drop)
    }

    /// Answers [`Event::AuthSignatureNeeded`] with an SSH signature blob
    /// (`string` algorithm, `string` signature).
    pub fn auth_signature(&mut self, signature_blob: &[u8]) -> Result<(), ApiMisuse> {
        self.conn
            .apply(Command::AuthSignature {
                blob: signature_blob.into(),
            })
            .map(drop)
    }

    /// Starts keyboard-interactive authentication (RFC 4256).
    pub fn auth_keyboard_interactive(
        &mut self,
        user: &str,
        submethods: &str,
    ) -> Result<(), ApiMisuse> {
        self.conn
            .apply(Command::AuthKeyboardInteractive {
                user: user.into(),
                submethods: submethods.into(),
            })
            .map(drop)
    }

    /// Answers [`Event::AuthInfoRequest`], one response per prompt.
    pub fn auth_info_response(&mut self, responses: &[String]) -> Result<(), ApiMisuse> {
        self.conn
            .apply(Command::AuthInfoResponse {
                responses: responses.into(),
            })
            .map(drop)
    }

    /// Asks the server to forward agent connections to us
    /// (`auth-agent-req@openssh.com` on a session channel, OpenSSH
    /// PROTOCOL.agent; `ssh -A`). Sent without want-reply, as OpenSSH
    /// does. From then on, `auth-agent@openssh.com` channels the server
    /// opens arrive as [`ChannelEvent::OpenRequest`] for the application to
    /// relay to its agent; before, the connection refuses them itself.
    pub fn request_agent_forwarding(&mut self, channel: ChannelId) -> Result<(), ApiMisuse> {
        self.conn
            .channel_request(channel, &ChannelRequest::AuthAgentReq, false)
    }
}

impl ServerConnection {
    /// Opens an `auth-agent@openssh.com` channel to the client, for one
    /// connection to the forwarded agent socket of a session whose client
    /// sent [`ChannelRequest::AuthAgentReq`] (OpenSSH PROTOCOL.agent).
    /// [`ChannelEvent::Opened`] or [`ChannelEvent::OpenFailed`] follows.
    pub fn open_agent_channel(&mut self) -> Result<ChannelId, ApiMisuse> {
        self.conn.open_channel(crate::forward::AUTH_AGENT, &[])
    }

    /// Answers the pending [`Event::AuthRequest`].
    pub fn auth_decision(&mut self, decision: AuthDecision) -> Result<(), ApiMisuse> {
        self.conn
            .apply(Command::AuthDecision {
                decision: Cow::Owned(decision),
            })
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::auth::AuthDecision;
    use crate::command::Command;
    use crate::config::ClientConfig;
    use crate::error::ApiMisuse;
    use crate::record::seeded_rng;
    use crate::Connection;

    /// A command that arrives as a value (replay, fuzzing) still meets the
    /// role check the types make unnecessary for the typed calls.
    #[test]
    fn a_command_for_the_other_role_is_refused_at_run_time() {
        let config = Arc::new(ClientConfig::default());
        let mut conn: Connection =
            Connection::client(config, seeded_rng([4; 32]), crate::test_epoch()).into();
        let before = conn.poll_transmit().map(<[u8]>::to_vec);
        assert_eq!(
            conn.apply(Command::AuthDecision {
                decision: std::borrow::Cow::Owned(AuthDecision::Accept),
            }),
            Err(ApiMisuse::WrongRole("auth_decision", "server"))
        );
        // Refused before anything ran: nothing queued, nothing ended.
        assert_eq!(conn.poll_transmit().map(<[u8]>::to_vec), before);
        assert!(conn.error().is_none() && conn.poll_event().is_none());
        // The client's own call passes the role check and meets the state's.
        assert_eq!(
            conn.apply(Command::AcceptHostKey),
            Err(ApiMisuse::NoHostKeyPending)
        );
    }
}
