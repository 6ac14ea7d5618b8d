//! A server with every limit against abusive clients set by hand: the
//! memory one connection may make it hold, session channels per connection
//! (sshd's `MaxSessions`), unauthenticated connections overall and per
//! source address (`MaxStartups`, `PerSourceMaxStartups`), failed logins
//! per connection (`MaxAuthTries`) and the least time before a failure is
//! answered. Each session echoes its input back, as `cat` would, so the
//! limits can be tried with a plain `ssh`:
//!
//! ```sh
//! cargo run -p conch-examples --example server_limits -- --port 2222 --password secret \
//!     --max-sessions 2 --per-source 1
//! echo hello | ssh -p 2222 alice@127.0.0.1 cat       # password: secret
//! ```
//!
//! Every refusal is logged on stderr with its reason (`--verbose` for the
//! protocol's own log lines). The host key is made afresh at each start
//! (ssh will say it is unknown).

use std::time::Duration;

use conch_core::{AuthAttempt, AuthDecision, PrivateKey, ServerConfig};
use conch_driver::StartupLimits;
use conch_tokio::{Channel, IncomingChannel, Listener, ServerHandler, ServerOptions};
use tokio::io::AsyncWriteExt;

/// The limits this example applies; each is one setting of the library.
#[derive(Debug, Clone)]
struct Limits {
    /// `ChannelConfig::memory_budget`: receive windows, send buffer and
    /// unread answers of one connection together.
    memory_budget: usize,
    /// `ChannelConfig::max_sessions`: session channels open at once.
    max_sessions: u32,
    /// `ServerOptions::startup_limits`: unauthenticated connections.
    startups: StartupLimits,
    /// `ServerConfig::max_auth_attempts`: failures before DISCONNECT.
    max_auth_tries: u32,
    /// `ServerConfig::auth_failure_delay`: least time before a failure is
    /// answered, the same for unknown users (`None`: at once).
    auth_failure_delay: Option<Duration>,
}

impl Default for Limits {
    /// Tighter than the library's defaults (32 MiB, 64 sessions,
    /// 10:30:100 with 5 per source, 6 tries, 5 ms), for a small server.
    fn default() -> Self {
        let mut startups = StartupLimits::default();
        startups
            .parse_max_startups("10:30:60")
            .expect("a valid MaxStartups");
        startups.per_source = Some(3);
        Limits {
            memory_budget: 16 << 20,
            max_sessions: 10,
            startups,
            max_auth_tries: 3,
            auth_failure_delay: Some(Duration::from_millis(5)),
        }
    }
}

impl Limits {
    /// The server's settings with these limits.
    fn server_options(&self, host_key: PrivateKey, handler: Handler) -> ServerOptions {
        let mut config = ServerConfig::new(vec![host_key]);
        config.auth_methods = vec!["password".into()];
        config.channels.memory_budget = self.memory_budget;
        config.channels.max_sessions = self.max_sessions;
        config.max_auth_attempts = self.max_auth_tries;
        config.auth_failure_delay = self.auth_failure_delay;
        let mut options = ServerOptions::new(config, handler);
        options.startup_limits = self.startups;
        options
    }
}

/// Password logins; sessions (exec or shell) are served by [`echo`].
struct Handler {
    password: String,
}

impl ServerHandler for Handler {
    fn auth(&self, _user: &str, attempt: &AuthAttempt) -> AuthDecision {
        match attempt {
            AuthAttempt::Password { password, .. } if *password == self.password => {
                AuthDecision::Accept
            }
            _ => AuthDecision::Reject,
        }
    }
}

/// Sends the session's input back until its EOF, then exit status 0.
async fn echo(incoming: IncomingChannel<Channel>) {
    let channel = incoming.channel;
    let (mut input, mut output) = (&channel, &channel);
    let status = match tokio::io::copy(&mut input, &mut output).await {
        Ok(_) => 0,
        Err(_) => 1,
    };
    let _ = output.shutdown().await;
    let _ = channel.send_exit_status(status);
    let _ = channel.close_channel().await;
}

const USAGE: &str = "\
usage: server_limits --password PASSWORD [--port PORT] [--verbose]
       [--memory-budget BYTES[K|M]] [--max-sessions N]
       [--max-startups START:RATE:FULL] [--per-source N|none]
       [--max-auth-tries N] [--auth-failure-delay-ms MS]";

/// Bytes, or a number with K or M (powers of 1024).
fn parse_size(text: &str) -> Option<usize> {
    let (digits, shift) = match text.strip_suffix(['K', 'k']) {
        Some(digits) => (digits, 10),
        None => match text.strip_suffix(['M', 'm']) {
            Some(digits) => (digits, 20),
            None => (text, 0),
        },
    };
    digits.parse::<usize>().ok()?.checked_mul(1 << shift)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 2222u16;
    let mut password = None;
    let mut verbose = false;
    let mut limits = Limits::default();
    let mut args = lexopt::Parser::from_env();
    while let Some(arg) = args.next()? {
        use lexopt::prelude::*;
        let bad = |what: &str| format!("bad {what}\n{USAGE}");
        match arg {
            Long("port") => port = args.value()?.parse()?,
            Long("password") => password = Some(args.value()?.string()?),
            Long("verbose") => verbose = true,
            Long("memory-budget") => {
                let text = args.value()?.string()?;
                limits.memory_budget = parse_size(&text).ok_or_else(|| bad("--memory-budget"))?;
            }
            Long("max-sessions") => limits.max_sessions = args.value()?.parse()?,
            Long("max-startups") => {
                let text = args.value()?.string()?;
                limits.startups.parse_max_startups(&text)?;
            }
            Long("per-source") => {
                let text = args.value()?.string()?;
                limits.startups.per_source = match text.as_str() {
                    "none" => None,
                    n => Some(n.parse().map_err(|_| bad("--per-source"))?),
                };
            }
            Long("max-auth-tries") => limits.max_auth_tries = args.value()?.parse()?,
            Long("auth-failure-delay-ms") => {
                let ms: u64 = args.value()?.parse()?;
                limits.auth_failure_delay = (ms > 0).then(|| Duration::from_millis(ms));
            }
            Long("help") => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("{}\n{USAGE}", other.unexpected()).into()),
        }
    }
    let password = password.ok_or_else(|| format!("--password is required\n{USAGE}"))?;

    // Refusals (a connection past MaxStartups, a session past
    // MaxSessions, a client cut off for unread answers, too many
    // failures) are logged at info; the protocol's steps at debug.
    let level = if verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();

    let host_key = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let options = limits.server_options(host_key, Handler { password });
    let listener = Listener::bind(("127.0.0.1", port), options).await?;
    println!("listening on {} with {limits:?}", listener.local_addr()?);
    loop {
        // Connections past the startup limits never come out of accept:
        // the listener closes them and logs why.
        let (session, peer) = listener.accept().await?;
        tracing::info!(%peer, "connection accepted");
        tokio::spawn(async move {
            // Sessions past max_sessions are refused by the core (`open
            // failed: connect failed`, as sshd says) and never arrive here.
            while let Some(incoming) = session.accept_channel().await {
                tokio::spawn(echo(incoming));
            }
        });
    }
}
