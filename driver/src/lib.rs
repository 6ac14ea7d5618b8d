//! # conch-driver
//!
//! Everything the Conch runtime adapters share, written once: sessions and
//! channels over a [`conch_core::Connection`], the handling of every event,
//! authentication, host key verification, the server role, and the I/O
//! pump. OpenSSH's files and habits (known_hosts, key files, the agent)
//! are `conch-openssh`'s, built on this crate's [`Signer`] and
//! [`HostKeyVerifier`]. It uses only `std` and the `futures-io` traits; an adapter
//! (`conch-tokio`, `conch-smol`, `conch-blocking`) adds a socket, a timer
//! and a place to run the pump.
//!
//! ## How the pieces fit
//! - [`client`] / [`server`] create the state of one connection and return
//!   the application's handle ([`Session`] / [`ServerSession`]) and the
//!   [`Engine`], the pump's side. The adapter runs [`Engine::into_pump`] as
//!   a task over its socket (or drives the engine from threads).
//! - [`runtime`] is what an async adapter is: its [`Runtime`] (sockets,
//!   spawn, timer) and the `connect`, `serve_stream` and [`runtime::Listener`]
//!   written once over it.
//! - All handles share the core `Connection` behind a mutex. Calls lock it,
//!   act, handle the resulting events and wake the pump; waiting calls are
//!   futures woken by those events. The pump never blocks on a channel.
//! - The connection lives while any handle (session or channel) exists.
//!
//! ## Example (with an adapter supplying the session)
//! ```no_run
//! # async fn demo(session: conch_driver::Session) -> Result<(), conch_driver::Error> {
//! use conch_driver::AuthMethods;
//! use futures_util::io::AsyncReadExt;
//!
//! session.authenticate("alice", AuthMethods::new().password("secret")).await?;
//! let mut channel = session.exec("echo hello").await?;
//! let mut out = Vec::new();
//! channel.read_to_end(&mut out).await?;
//! let status = channel.exit_status().await?;
//! assert!(status.success());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(unix)]
mod agent_socket;
mod auth;
pub mod block_on;
mod channel;
mod error;
mod forward;
pub mod forwarding;
mod host_key;
pub mod listen;
mod login;
mod options;
pub mod process;
#[cfg(unix)]
pub mod proxy;
#[cfg(unix)]
mod pty;
mod pump;
mod record_file;
pub mod runtime;
mod server;
mod session;
pub mod sftp;
mod shared;
mod start;
pub mod startups;
pub mod terminal;
#[cfg(unix)]
pub mod terminal_modes;
#[cfg(feature = "test-support")]
pub mod testing;
mod wakers;

pub use auth::{
    AuthMethods, AuthResult, KeyboardInteractive, PasswordResponder, SignFuture, Signer,
};
pub use channel::{signal_number, Channel, ChannelStderr, ExitStatus};
pub use error::{Error, Result};
pub use forward::{ForwardRequest, ListenRequest, PendingOpen};
pub use host_key::{HostKeyPolicy, HostKeyVerdict, HostKeyVerifier, ServerName};
pub use login::{AcceptEnv, Account, ConnectionAddrs, SessionSetup};
pub use options::{AddressFamily, ClientOptions, ServerOptions};
pub use pump::{with_timeout, Engine, Pump, Sleep, Timer};
pub use record_file::RECORD_ENV;
pub use runtime::Runtime;
pub use server::{
    server, IncomingChannel, PtyRequest, ServerHandler, ServerSession, SessionCommand,
};
pub use session::{client, Session};
pub use start::{connect_each, connect_first, resolve_error, start_client, start_server};
pub use startups::StartupLimits;

pub use conch_core;

/// The handles are shared across threads and tasks.
#[allow(dead_code)]
fn assert_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Session>();
    send_sync::<ServerSession>();
    send_sync::<Channel>();
    send_sync::<ChannelStderr>();
    send_sync::<Engine>();
    send::<Pump<std::io::Cursor<Vec<u8>>>>();
}
