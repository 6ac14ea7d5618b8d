//! # conch-blocking
//!
//! Conch without an async runtime: sessions over `std::net::TcpStream`,
//! channels that implement `std::io::Read` and `Write`. Every handle may be
//! used from several threads at once ([`Session`] is `Send + Sync` and
//! cheap to clone, [`Channel`] is `Send + Sync` and `&Channel` reads and
//! writes too). Each connection has a reader and a writer thread; calls
//! block their own thread only.
//!
//! The logic is [`conch_driver`]'s; this crate adds the threads and
//! blocking wrappers. Port forwarding ([`local_forward`],
//! [`serve_remote_forwards`], [`serve_forwards`]) and jump hosts
//! ([`connect_via`]) are the driver's code run with a thread per task.
//!
//! ```no_run
//! use std::io::Read;
//! use conch_blocking::{connect, AuthMethods, ClientOptions, HostKeyPolicy};
//!
//! # fn demo(host_key: conch_blocking::PublicKey) -> Result<(), conch_blocking::Error> {
//! let options = ClientOptions::new(HostKeyPolicy::trust_keys([host_key]));
//! let session = connect("example.org", 22, options)?;
//! session.authenticate("alice", AuthMethods::new().password("secret"))?;
//! let mut channel = session.exec("uname -a")?;
//! let mut out = String::new();
//! channel.read_to_string(&mut out)?;
//! println!("{out} ({})", channel.exit_status()?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod channel;
mod endpoint;
mod forwarding;
mod pump;
mod runtime;
mod server;
mod session;
pub mod sftp;

pub use channel::{Channel, ChannelStderr};
pub use endpoint::Blocking;

/// Runs one command over SSH and yields its stream (Twisted's
/// `SSHCommandClientEndpoint`), blocking: conch-openssh's
/// [`conch_openssh::CommandEndpoint`], whose calls here return when done.
///
/// ```no_run
/// use conch_blocking::CommandEndpoint;
/// use std::io::Read;
///
/// # fn demo() -> Result<(), conch_blocking::EndpointError> {
/// let endpoint = CommandEndpoint::new_connection("uname -a", "alice", "example.org").password("secret");
/// let mut channel = endpoint.connect()?;
/// let mut out = String::new();
/// channel.read_to_string(&mut out).ok();
/// # Ok(()) }
/// ```
pub type CommandEndpoint = conch_openssh::CommandEndpoint<Blocking>;
pub use server::{serve_stream, Listener, ServerSession};
pub use session::{connect, connect_stream, Session};

pub use conch_driver::conch_core::{
    AuthAttempt, AuthDecision, Bytes, ChannelOpenFailure, ChannelRequest, ClientConfig, PrivateKey,
    Prompt, PublicKey, ServerConfig, WindowSize,
};
pub use conch_driver::{
    AuthMethods, AuthResult, ClientOptions, Error, ExitStatus, HostKeyPolicy, HostKeyVerdict,
    HostKeyVerifier, IncomingChannel, KeyboardInteractive, PasswordResponder, PtyRequest, Result,
    ServerHandler, ServerName, ServerOptions, SessionCommand, Signer,
};
// OpenSSH's files and habits (known_hosts, key files, the agent, authorized_keys).
pub use conch_driver::conch_core::{Forward, ForwardChannel};
pub use conch_driver::forwarding::{ForwardListener, Listen, OnFailure, RemoteTarget, Target};
pub use conch_driver::{ForwardRequest, ListenRequest, PendingOpen};
pub use conch_openssh::adapter_exports::*;
pub use forwarding::{connect_via, local_forward, serve_forwards, serve_remote_forwards};
