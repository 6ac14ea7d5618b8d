//! An ssh-agent client over the Unix socket named by `SSH_AUTH_SOCK`: lists
//! the agent's keys and has it sign, each key offered to
//! [`conch_driver::Session::authenticate`] as a [`Signer`]. The messages are the
//! core's pure codec ([`conch_core::agent`]); this module adds the socket.
//!
//! Like OpenSSH, an agent that cannot be reached is not an error for
//! authentication: [`AgentClient::signers`] then offers no key, and the
//! other credentials are tried.
//!
//! ```no_run
//! use conch_openssh::AgentClient;
//! use conch_driver::AuthMethods;
//!
//! let mut methods = AuthMethods::new();
//! if let Some(agent) = AgentClient::from_env() {
//!     for signer in agent.signers() {
//!         methods = methods.signer(signer);
//!     }
//! }
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use conch_core::agent::{sign_flags, AgentError, FrameDecoder, Identity, Request, Response};
use conch_core::{KeyError, PublicKey};

use conch_driver::{SignFuture, Signer};

use crate::thread::run_on_thread;

/// The environment variable naming the agent's socket.
pub const SSH_AUTH_SOCK: &str = "SSH_AUTH_SOCK";

/// How long one request may wait for the agent. Generous: an agent may ask
/// its user to confirm each use of a key (`ssh-add -c`).
const AGENT_TIMEOUT: Duration = Duration::from_secs(120);

/// A client of one agent socket. Each request uses its own short
/// connection, so the client is cheap to clone and share between threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentClient {
    socket: PathBuf,
}

/// One key an agent holds, usable as a [`Signer`].
#[derive(Clone)]
pub struct AgentSigner {
    agent: AgentClient,
    key: PublicKey,
    comment: String,
}

impl fmt::Debug for AgentSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentSigner")
            .field("key", &self.key)
            .field("comment", &self.comment)
            .finish()
    }
}

impl AgentClient {
    /// The agent listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        AgentClient {
            socket: socket.into(),
        }
    }

    /// The agent named by `SSH_AUTH_SOCK`, if it is set (whether the agent
    /// answers is only known when it is asked).
    pub fn from_env() -> Option<Self> {
        let path = std::env::var_os(SSH_AUTH_SOCK).filter(|p| !p.is_empty())?;
        Some(Self::new(path))
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Lists the agent's keys (blocking). Keys of types Conch cannot use
    /// are left out, as OpenSSH leaves them out.
    pub fn identities(&self) -> io::Result<Vec<AgentSigner>> {
        match self.request(&Request::RequestIdentities)? {
            Response::Identities(ids) => Ok(ids
                .into_iter()
                .filter_map(|id: Identity| {
                    let key = id.public_key().ok()?;
                    Some(AgentSigner {
                        agent: self.clone(),
                        key,
                        comment: id.comment,
                    })
                })
                .collect()),
            other => Err(unexpected(&other)),
        }
    }

    /// The agent's keys as signers for [`conch_driver::AuthMethods::signer`]; none
    /// when the agent cannot be reached or answers nonsense (authentication
    /// then goes on without it).
    pub fn signers(&self) -> Vec<Arc<dyn Signer>> {
        self.identities()
            .unwrap_or_default()
            .into_iter()
            .map(|s| Arc::new(s) as Arc<dyn Signer>)
            .collect()
    }

    /// Asks the agent to sign `data` with the key whose wire blob is
    /// `key_blob`, with `signature_algorithm` (blocking). Returns the SSH
    /// signature blob.
    pub fn sign(
        &self,
        key_blob: &[u8],
        signature_algorithm: &str,
        data: &[u8],
    ) -> io::Result<Vec<u8>> {
        let request = Request::Sign {
            key_blob: key_blob.to_vec(),
            data: data.to_vec(),
            flags: sign_flags(signature_algorithm),
        };
        match self.request(&request)? {
            Response::Signature(blob) => Ok(blob),
            Response::Failure => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the agent refused to sign",
            )),
            other => Err(unexpected(&other)),
        }
    }

    /// One request and its answer on a fresh connection.
    fn request(&self, request: &Request) -> io::Result<Response> {
        let mut stream = UnixStream::connect(&self.socket)?;
        stream.set_read_timeout(Some(AGENT_TIMEOUT))?;
        stream.set_write_timeout(Some(AGENT_TIMEOUT))?;
        stream.write_all(&request.encode().map_err(agent_error)?)?;
        let mut decoder = FrameDecoder::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the agent closed the connection without answering",
                ));
            }
            let mut input = &buf[..n];
            if let Some(response) = decoder.decode_response(&mut input).map_err(agent_error)? {
                return Ok(response);
            }
        }
    }
}

fn agent_error(e: AgentError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn unexpected(response: &Response) -> io::Error {
    let kind = match response {
        Response::Failure => "failure",
        Response::Success => "success",
        Response::Identities(_) => "a key list",
        Response::Signature(_) => "a signature",
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected agent answer: {kind}"),
    )
}

impl AgentSigner {
    /// The comment the key was added to the agent with.
    pub fn comment(&self) -> &str {
        &self.comment
    }
}

impl Signer for AgentSigner {
    fn public_key(&self) -> PublicKey {
        self.key.clone()
    }

    fn sign<'a>(&'a self, algorithm: &'a str, data: &'a [u8]) -> SignFuture<'a> {
        let agent = self.agent.clone();
        let blob = self.key.blob().to_vec();
        let algorithm = algorithm.to_string();
        let data = data.to_vec();
        // The socket is blocking and the agent may wait for its user: talk
        // to it on a thread of its own rather than in the caller's task.
        Box::pin(async move {
            run_on_thread(move || agent.sign(&blob, &algorithm, &data))
                .await
                // No thread could be started: the OS is out of resources.
                .unwrap_or_else(|| Err(io::Error::other("cannot start the agent thread")))
                .map_err(|_| KeyError::Sign)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;

    use conch_core::agent::MemoryAgent;
    use conch_core::PrivateKey;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use conch_driver::block_on::block_on;

    /// Serves `agent` on a fresh socket, one connection per request, for
    /// `connections` connections.
    fn serve(agent: MemoryAgent, connections: usize) -> (PathBuf, std::thread::JoinHandle<()>) {
        let path = std::env::temp_dir().join(format!(
            "conch-agent-test-{}-{connections}-{:?}.sock",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            for _ in 0..connections {
                let (mut stream, _) = listener.accept().unwrap();
                let mut decoder = FrameDecoder::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buf).unwrap();
                    let mut input = &buf[..n];
                    if let Some(request) = decoder.decode_request(&mut input).unwrap() {
                        let answer = agent.answer(&request).encode().unwrap();
                        stream.write_all(&answer).unwrap();
                        break;
                    }
                }
            }
        });
        (path, handle)
    }

    #[test]
    fn lists_keys_and_signs_through_the_socket() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        let key = PrivateKey::generate_ed25519(&mut rng);
        let mut agent = MemoryAgent::new();
        agent.add(key.clone(), "alice@laptop");
        let (path, server) = serve(agent, 2);
        let client = AgentClient::new(&path);
        let ids = client.identities().unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].public_key(), *key.public_key());
        assert_eq!(ids[0].comment(), "alice@laptop");
        let sig = block_on(ids[0].sign("ssh-ed25519", b"session data")).unwrap();
        assert!(key
            .public_key()
            .verify("ssh-ed25519", b"session data", &sig));
        server.join().unwrap();
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn an_unreachable_agent_offers_no_keys() {
        let client = AgentClient::new("/nonexistent/conch-agent.sock");
        assert!(client.identities().is_err());
        assert!(client.signers().is_empty());
    }
}
