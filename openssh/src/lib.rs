//! # conch-openssh
//!
//! OpenSSH's files and habits for Conch, on top of `conch-driver`'s
//! session runtime: what a client needs to live in the OpenSSH world and
//! what a server needs to let OpenSSH users in.
//!
//! - known_hosts: [`KnownHostsFile`] reads and appends the user's file
//!   (hashed entries, locked while saving), [`KnownHostsVerifier`] checks
//!   host keys against it as `ssh`'s `StrictHostKeyChecking` does;
//!   [`KnownHostsVerifier::strict`] is that check in one call. The
//!   question about an unknown host goes through a [`HostKeyUi`]:
//!   [`ConsoleUi`] asks on the terminal as `ssh` does, [`NoUi`] never asks.
//! - key files as `ssh-keygen` writes them: [`load_key`] (unencrypted),
//!   [`load_private_key`] (asking a passphrase), [`KeyFileSigner`] (the
//!   passphrase asked only if the server accepts the key), `.pub` files
//!   and the default identities.
//! - the ssh-agent (Unix): [`AgentClient`] lists its keys and has them sign.
//! - [`CommandEndpoint`]: one command over SSH the way Twisted's
//!   `SSHCommandClientEndpoint` runs it, with `ssh`'s defaults (known_hosts,
//!   the terminal, the agent), written once for every adapter.
//! - ssh_config as `ssh` reads it: [`ssh_config::SshConfig::load`]
//!   resolves a host alias to every option's value (`ssh -G`), and
//!   [`HostConfig`] turns them into what connecting uses (the adapters'
//!   `connect` options, credentials, a [`CommandEndpoint`]).
//! - authorized_keys as sshd reads it: [`AuthorizedKeys`], options
//!   included, and a constant-time [`constant_time_eq`].
//!
//! The adapters (`conch-tokio`, `conch-smol`, `conch-blocking`) re-export
//! all of it at their roots, so a program usually needs only its adapter:
//!
//! ```no_run
//! use conch_driver::{AuthMethods, ClientOptions};
//! use conch_openssh::{load_key, KnownHostsVerifier};
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Host keys checked as `ssh -o StrictHostKeyChecking=yes` checks them.
//! let options = ClientOptions::new(KnownHostsVerifier::strict()?);
//! // An unencrypted key file (`KeyFileSigner` asks for a passphrase).
//! let methods = AuthMethods::new().key(load_key("/home/alice/.ssh/id_ed25519")?);
//! // Then, with conch-tokio: `connect("example.org", 22, options).await?`
//! // and `session.authenticate("alice", methods).await?`.
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(unix)]
mod agent_client;
pub mod authorized_keys;
mod certificate_file;
mod console_ui;
pub mod endpoint;
pub mod forward_policy;
mod host_config;
mod key_file;
mod known_hosts_file;
pub mod ssh_config;
#[cfg(feature = "test-support")]
pub mod testing;
mod thread;

#[cfg(unix)]
pub use agent_client::{AgentClient, AgentSigner, SSH_AUTH_SOCK};
pub use authorized_keys::{constant_time_eq, AuthorizedKey, AuthorizedKeys, KeyOption};
pub use certificate_file::{
    certificate_path, load_certificate, with_certificates, CertifiedSigner,
};
pub use console_ui::ConsoleUi;
pub use endpoint::{CommandEndpoint, EndpointError, EndpointRuntime, PromptFn};
pub use forward_policy::ForwardPolicy;
pub use host_config::{order_host_key_algorithms, HostConfig, SignerResult, MAX_JUMP_DEPTH};
pub use key_file::{
    default_identity_files, load_key, load_private_key, load_public_key, KeyFileError,
    KeyFileSigner, PassphraseFn, DEFAULT_IDENTITY_FILES, PASSPHRASE_ATTEMPTS,
};
pub use known_hosts_file::{
    HostKeyUi, KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier, NoUi, GLOBAL_KNOWN_HOSTS_FILES,
};

/// Everything the adapters re-export at their roots (all of this crate's
/// items but [`CommandEndpoint`], which each adapter names on its own
/// runtime), listed once: `pub use conch_openssh::adapter_exports::*;`.
#[doc(hidden)]
pub mod adapter_exports {
    pub use crate::{certificate_path, load_certificate, with_certificates, CertifiedSigner};
    pub use crate::{
        constant_time_eq, default_identity_files, load_key, load_private_key, load_public_key,
        order_host_key_algorithms, AuthorizedKey, AuthorizedKeys, ConsoleUi, EndpointError,
        EndpointRuntime, ForwardPolicy, HostConfig, HostKeyUi, KeyFileError, KeyFileSigner,
        KeyOption, KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier, NoUi, PassphraseFn,
        PromptFn, DEFAULT_IDENTITY_FILES, GLOBAL_KNOWN_HOSTS_FILES, PASSPHRASE_ATTEMPTS,
    };
    #[cfg(unix)]
    pub use crate::{AgentClient, AgentSigner, SSH_AUTH_SOCK};
}
