//! # conch-cli
//!
//! Two programs built on Conch:
//!
//! - `conch`, an ssh-like client ([`client`]): `conch [-p PORT] [-l USER]
//!   [-i IDENTITY]... [-o OPTION=VALUE]... [USER@]HOST [COMMAND...]`, and
//!   `conch --demo` ([`demo`]), which runs the Twisted Conch client how-to's examples against an
//!   in-process server; `conch --replay FILE` ([`replay`]) prints a
//!   recorded transcript; `conch -G HOST` ([`config_dump`]) prints the
//!   configuration resolved from ssh_config files as `ssh -G` does;
//!   `conch sftp` and `conch scp` ([`sftp`]) move files as OpenSSH's
//!   `sftp` and `scp` do.
//! - `conchd`, a small server for tests and demos ([`server`], [`daemon`]):
//!   `conchd -p PORT --host-key FILE --authorized-keys FILE [--password-file FILE]`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cert_auth;
pub mod client;
pub mod config_dump;
pub mod daemon;
pub mod demo;
pub mod how_to;
pub mod limits;
pub mod logging;
pub mod output;
pub mod provider;
pub mod replay;
pub mod server;
pub mod sftp;
