//! Host key verification: the decision that makes an SSH connection safe.
//!
//! The client learns the server's key during the first key exchange; nothing
//! that depends on it (no credential) is sent until a [`HostKeyVerifier`]
//! accepts it. There is deliberately no verifier that accepts everything
//! under an innocent name: [`HostKeyPolicy::insecure_accept_any`] says what
//! it is.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use conch_core::PublicKey;

/// The server a client connects to, as the user named it (used to look the
/// key up, e.g. in a known-hosts file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerName {
    /// Host name or address, as given by the user.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The address actually connected to, when the connection is a TCP
    /// one the driver made (for ssh's `CheckHostIP`); `None` through a
    /// proxy or a stream handed in.
    pub address: Option<IpAddr>,
}

impl ServerName {
    /// A name and port.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ServerName {
            host: host.into(),
            port,
            address: None,
        }
    }

    /// The same name, connected at `address`.
    pub fn with_address(mut self, address: IpAddr) -> Self {
        self.address = Some(address);
        self
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port == 22 {
            write!(f, "{}", self.host)
        } else {
            write!(f, "[{}]:{}", self.host, self.port)
        }
    }
}

/// What a verifier decided about a host key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostKeyVerdict {
    /// Trusted: the connection goes on.
    Accept,
    /// Not trusted (unknown, declined, revoked ...): the connection ends with
    /// [`crate::Error::HostKeyRejected`].
    Reject {
        /// Why, for the error message.
        reason: String,
    },
    /// A different key is recorded for this host: the connection ends with
    /// [`crate::Error::HostKeyChanged`].
    Changed {
        /// Where the recorded key is (file and line, ...).
        detail: String,
    },
}

/// Decides whether a server's host key is trusted.
///
/// Called once per connection, from the task that runs the handshake (not
/// from the I/O pump), so it may take its time (e.g. ask the user).
pub trait HostKeyVerifier: Send + Sync {
    /// The verdict for `key` presented by `server`.
    fn verify(&self, server: &ServerName, key: &PublicKey) -> HostKeyVerdict;
}

impl<F> HostKeyVerifier for F
where
    F: Fn(&ServerName, &PublicKey) -> bool + Send + Sync,
{
    fn verify(&self, server: &ServerName, key: &PublicKey) -> HostKeyVerdict {
        if self(server, key) {
            HostKeyVerdict::Accept
        } else {
            HostKeyVerdict::Reject {
                reason: "refused by the verification callback".into(),
            }
        }
    }
}

/// Ready-made host key policies; any [`HostKeyVerifier`] can be used instead.
#[derive(Clone)]
pub struct HostKeyPolicy {
    verifier: Arc<dyn HostKeyVerifier>,
    description: &'static str,
}

impl HostKeyPolicy {
    /// Trust exactly these keys (for any host name), reject every other.
    pub fn trust_keys(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let keys: Vec<PublicKey> = keys.into_iter().collect();
        Self::custom(move |_: &ServerName, key: &PublicKey| keys.contains(key))
            .described("trusted key list")
    }

    /// Trust keys whose `SHA256:` fingerprint (as `ssh-keygen -l` prints it)
    /// is in the list.
    pub fn trust_fingerprints(fingerprints: impl IntoIterator<Item = String>) -> Self {
        let fps: Vec<String> = fingerprints.into_iter().collect();
        Self::custom(move |_: &ServerName, key: &PublicKey| fps.contains(&key.fingerprint()))
            .described("trusted fingerprint list")
    }

    /// Decide with any verifier, e.g. a closure
    /// `|server: &ServerName, key: &PublicKey| -> bool`.
    pub fn custom(verifier: impl HostKeyVerifier + 'static) -> Self {
        HostKeyPolicy {
            verifier: Arc::new(verifier),
            description: "custom verifier",
        }
    }

    /// Reject every key. This is the default: an application must say how
    /// keys are verified before it can connect anywhere.
    pub fn reject_all() -> Self {
        Self::custom(|_: &ServerName, _: &PublicKey| false).described("reject all")
    }

    /// **Insecure**: accept any host key without checking, which lets anyone
    /// on the network path impersonate the server and read the credentials.
    /// Only for tests and throw-away demos.
    pub fn insecure_accept_any() -> Self {
        Self::custom(|_: &ServerName, _: &PublicKey| true).described("INSECURE accept any")
    }

    fn described(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// Runs the verifier.
    pub fn verify(&self, server: &ServerName, key: &PublicKey) -> HostKeyVerdict {
        self.verifier.verify(server, key)
    }
}

impl Default for HostKeyPolicy {
    fn default() -> Self {
        Self::reject_all()
    }
}

impl fmt::Debug for HostKeyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostKeyPolicy({})", self.description)
    }
}

impl<V: HostKeyVerifier + 'static> From<Arc<V>> for HostKeyPolicy {
    fn from(verifier: Arc<V>) -> Self {
        HostKeyPolicy {
            verifier,
            description: "custom verifier",
        }
    }
}
