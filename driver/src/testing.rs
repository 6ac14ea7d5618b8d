//! Fixtures for the adapters' integration tests (feature `test-support`):
//! a server configuration with fixed keys and credentials, a handler that
//! runs commands with `sh -c`, and the commands the scenarios use. Each
//! adapter's tests bind its own listener and drive its own client API;
//! what they share lives here.

use std::time::Duration;

use conch_core::{AuthAttempt, AuthDecision, PrivateKey, Prompt, PublicKey, ServerConfig};

use crate::host_key::HostKeyPolicy;
use crate::options::{ClientOptions, ServerOptions};
use crate::server::{IncomingChannel, ServerHandler};

/// The test user.
pub const USER: &str = "alice";
/// The test user's password (also the keyboard-interactive answer).
pub const PASSWORD: &str = "correct horse battery staple";
/// Bound on every step of a test, so a bug fails the test instead of hanging it.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// A command printing more than a channel window (2 MiB by default), so an
/// unread channel running it stalls.
pub const FLOOD_COMMAND: &str = "head -c 8388608 /dev/zero";
/// The number of bytes [`FLOOD_COMMAND`] prints.
pub const FLOOD_LEN: usize = 8 * 1024 * 1024;
/// A command writing to stdout and stderr and exiting with status 3.
pub const STDERR_COMMAND: &str = "echo to-stdout; echo to-stderr >&2; exit 3";

/// Keys, options and credentials of an in-process test server.
#[derive(Debug)]
pub struct TestServer {
    /// Server options (handler included) for the adapter's listener.
    pub options: ServerOptions,
    /// The server's host key, which clients must trust.
    pub host_key: PublicKey,
    /// A key authorized for [`USER`].
    pub client_key: PrivateKey,
}

impl TestServer {
    /// A server with keys made from a fixed seed.
    pub fn new() -> Self {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x0c0c);
        let host = PrivateKey::generate_ed25519(&mut rng);
        let client_key = PrivateKey::generate_ed25519(&mut rng);
        let host_key = host.public_key().clone();
        let handler = TestHandler {
            authorized: client_key.public_key().clone(),
        };
        TestServer {
            options: ServerOptions::new(ServerConfig::new(vec![host]), handler),
            host_key,
            client_key,
        }
    }

    /// Client options that trust exactly this server's host key.
    pub fn client_options(&self) -> ClientOptions {
        let mut options = ClientOptions::new(HostKeyPolicy::trust_keys([self.host_key.clone()]));
        options.handshake_timeout = Some(STEP_TIMEOUT);
        options.connect_timeout = Some(STEP_TIMEOUT);
        options
    }

    /// Serves a started channel: runs its command on background threads.
    pub fn serve(incoming: IncomingChannel) {
        crate::process::spawn_command(incoming);
    }
}

impl Default for TestServer {
    fn default() -> Self {
        Self::new()
    }
}

/// Accepts [`USER`] with [`PASSWORD`] (password or keyboard-interactive) or
/// the authorized key.
#[derive(Debug)]
pub struct TestHandler {
    authorized: PublicKey,
}

impl ServerHandler for TestHandler {
    fn auth(&self, user: &str, attempt: &AuthAttempt) -> AuthDecision {
        if user != USER {
            return AuthDecision::Reject;
        }
        match attempt {
            AuthAttempt::Password { password, .. } if password == PASSWORD => AuthDecision::Accept,
            AuthAttempt::PublicKey { key, .. } if *key == self.authorized => AuthDecision::Accept,
            AuthAttempt::KeyboardInteractive { responses, .. } if responses.is_empty() => {
                AuthDecision::InfoRequest {
                    name: String::new(),
                    instruction: String::new(),
                    prompts: vec![Prompt {
                        prompt: "Password: ".into(),
                        echo: false,
                    }],
                }
            }
            AuthAttempt::KeyboardInteractive { responses, .. }
                if responses.len() == 1 && responses[0] == PASSWORD =>
            {
                AuthDecision::Accept
            }
            _ => AuthDecision::Reject,
        }
    }
}
