//! # conch-examples
//!
//! The examples of the Twisted Conch client how-to, in Rust with
//! `conch-tokio`. The pieces the examples share live here, as the how-to's
//! `echoclient_shared_ssh.py` imports `ConnectionParameters` from
//! `echoclient_ssh.py`; `conch --demo` runs the same code against an
//! in-process server.
//!
//! - [`ConnectionParameters`]: the how-to's command-line options (`--host/-h`,
//!   `--port/-p`, `--username/-u`, `--identity/-i`, `--password`,
//!   `--knownhosts/-k`, `--no-agent`) and the endpoint they describe.
//! - [`echo::run`]: the echo client writing "bif", "pow", "zot" to
//!   `/bin/cat` and printing "Server says: ..." for each answer
//!   (`cargo run -p conch-examples --example echoclient_ssh -- -h HOST`).
//! - [`shared::fifty_echoes`]: 50 `/bin/echo N` commands on one shared
//!   connection (`--example echoclient_shared_ssh`).
//! - `examples/lowlevel_walkthrough.rs`: the transport, user auth,
//!   connection and channel walked through by hand with
//!   `conch_core::Connection` over a `std::net::TcpStream`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The README's examples, compiled (not run) as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

mod params;

// The how-to's two protocols live in conch-cli, which runs them in
// `conch --demo` too.
pub use conch_cli::how_to::{current_user, echo, shared, BoxError};
pub use params::{read_key, ConnectionParameters, USAGE};
