//! # conch-tokio
//!
//! Conch over tokio: connect over TCP (names resolved, IPv4 and IPv6, connect
//! and handshake timeouts) or over any `AsyncRead + AsyncWrite` stream,
//! authenticate, and talk to remote commands through [`Channel`]s that are
//! tokio byte streams. A [`Listener`] serves connections.
//!
//! Sessions and channels are [`conch_driver`]'s, wrapped so channels
//! implement tokio's I/O traits; every driver method is reachable through
//! `Deref` (auth calls, requests, `exit_status` ...). The I/O pump of each
//! connection runs as a spawned task, so a tokio runtime with the time
//! driver enabled must be running.
//!
//! ```no_run
//! use conch_tokio::{connect, AuthMethods, ClientOptions, HostKeyPolicy};
//! use tokio::io::AsyncReadExt;
//!
//! # async fn demo(host_key: conch_tokio::PublicKey) -> Result<(), conch_tokio::Error> {
//! let options = ClientOptions::new(HostKeyPolicy::trust_keys([host_key]));
//! let session = connect("example.org", 22, options).await?;
//! session.authenticate("alice", AuthMethods::new().password("secret")).await?;
//! let mut channel = session.exec("uname -a").await?;
//! let mut out = String::new();
//! channel.read_to_string(&mut out).await?;
//! println!("{out} ({})", channel.exit_status().await?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod endpoint;
mod server;
mod stream;

pub use client::{connect, connect_stream, Session};
// OpenSSH's files and habits (known_hosts, key files, the agent, authorized_keys).
pub use conch_openssh::{
    constant_time_eq, default_identity_files, load_key, load_private_key, load_public_key,
    AuthorizedKey, AuthorizedKeys, ConsoleUi, EndpointError, EndpointRuntime, HostKeyUi,
    KeyFileError, KeyFileSigner, KeyOption, KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier,
    NoUi, PassphraseFn, PromptFn, DEFAULT_IDENTITY_FILES, GLOBAL_KNOWN_HOSTS_FILES,
    PASSPHRASE_ATTEMPTS,
};
#[cfg(unix)]
pub use conch_openssh::{AgentClient, AgentSigner, SSH_AUTH_SOCK};
pub use endpoint::Tokio;
pub use server::{serve_stream, Listener, ServerSession};
pub use stream::{Channel, ChannelStderr};

pub use conch_driver::conch_core::{
    AuthAttempt, AuthDecision, Bytes, ChannelOpenFailure, ChannelRequest, ClientConfig, PrivateKey,
    Prompt, PublicKey, ServerConfig, WindowSize,
};
pub use conch_driver::{
    AuthMethods, AuthResult, ClientOptions, Error, ExitStatus, HostKeyPolicy, HostKeyVerdict,
    HostKeyVerifier, IncomingChannel, KeyboardInteractive, PasswordResponder, PtyRequest, Result,
    ServerHandler, ServerName, ServerOptions, SessionCommand, Signer,
};

use std::sync::Arc;
use std::time::Instant;

/// Runs one command over SSH and yields its stream (Twisted's
/// `SSHCommandClientEndpoint`), on tokio: conch-openssh's
/// [`conch_openssh::CommandEndpoint`], whose calls here return futures.
///
/// ```no_run
/// use conch_tokio::{AgentClient, CommandEndpoint};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # async fn demo() -> Result<(), conch_tokio::EndpointError> {
/// let mut endpoint = CommandEndpoint::new_connection("/bin/cat", "alice", "example.org")
///     .port(22)
///     .password("secret");
/// if let Some(agent) = AgentClient::from_env() {
///     endpoint = endpoint.agent(agent);
/// }
/// let mut channel = endpoint.connect().await?;
/// channel.write_all(b"bif\n").await.ok();
/// channel.shutdown().await.ok();
/// let mut echoed = String::new();
/// channel.read_to_string(&mut echoed).await.ok();
/// # Ok(()) }
/// ```
pub type CommandEndpoint = conch_openssh::CommandEndpoint<Tokio>;

/// tokio's timer for the driver.
#[derive(Debug, Clone, Copy)]
struct TokioTimer;

impl conch_driver::Timer for TokioTimer {
    fn sleep_until(&self, deadline: Instant) -> conch_driver::Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
}

fn timer() -> Arc<dyn conch_driver::Timer> {
    Arc::new(TokioTimer)
}
