//! [`CommandEndpoint`]: run one command over SSH and talk to it as a byte
//! stream, the way Twisted's `SSHCommandClientEndpoint` does.
//!
//! A new-connection endpoint connects, checks the host key against
//! known_hosts, authenticates, opens a `session` channel and `exec`s the
//! command; an existing-connection endpoint only opens a channel and
//! `exec`s on a session already authenticated (and never closes it). Either
//! way [`CommandEndpoint::connect`] yields the command's channel: read
//! its stdout, write its stdin, `shutdown()` for EOF, `stderr()`, then
//! `exit_status()`.
//!
//! The logic is written once here, for any runtime: each adapter names the
//! endpoint on its own runtime (`conch_tokio::CommandEndpoint`,
//! `conch_smol::CommandEndpoint`, `conch_blocking::CommandEndpoint`), whose
//! calls return a future to await (tokio, smol) or the result itself
//! (blocking). An async adapter takes part as a [`conch_driver::Runtime`];
//! the blocking one implements [`EndpointRuntime`] itself.
//!
//! Cancelling is dropping the `connect` future, in any phase: before the
//! TCP connection, during the handshake or authentication (the connection
//! is closed), or while the channel opens or the command starts (the
//! channel is closed; a new connection is closed with it, an existing one
//! stays up).
//!
//! With conch-tokio (compiled in its docs):
//!
//! ```ignore
//! use conch_tokio::{AgentClient, CommandEndpoint};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn demo() -> Result<(), conch_tokio::EndpointError> {
//! let mut endpoint = CommandEndpoint::new_connection("/bin/cat", "alice", "example.org")
//!     .port(22)
//!     .password("secret");
//! if let Some(agent) = AgentClient::from_env() {
//!     endpoint = endpoint.agent(agent);
//! }
//! let mut channel = endpoint.connect().await?;
//! channel.write_all(b"bif\n").await.ok();
//! channel.shutdown().await.ok();
//! let mut echoed = String::new();
//! channel.read_to_string(&mut echoed).await.ok();
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use conch_core::{PrivateKey, Prompt};
use conch_driver::{
    AuthMethods, ClientOptions, Error, HostKeyPolicy, KeyboardInteractive, PasswordResponder,
    Session, Signer,
};
use zeroize::Zeroizing;

mod error;

pub use error::EndpointError;
use error::Phase;

use crate::thread::run_on_thread;
#[cfg(unix)]
use crate::AgentClient;
use crate::{ConsoleUi, HostKeyUi, KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier};

/// A session and a command's channel on it, in an adapter's types.
pub type SessionAndChannel<R> = (
    <R as EndpointRuntime>::Session,
    <R as EndpointRuntime>::Channel,
);

/// A boxed future that may move between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An adapter as a [`CommandEndpoint`] sees it: its `connect`, its session
/// and channel types, and how its callers wait for a result.
pub trait EndpointRuntime: Send + Sync + 'static {
    /// The adapter's client session.
    type Session: Clone + Send + Sync + 'static;
    /// The adapter's channel.
    type Channel: Send + 'static;
    /// What the endpoint's calls return: a future for an async adapter
    /// ([`BoxFuture`]), the result itself for a blocking one.
    type Wait<'a, T: Send + 'a>;

    /// Connects over TCP and runs the handshake (the adapter's `connect`).
    fn connect(
        host: String,
        port: u16,
        options: ClientOptions,
    ) -> BoxFuture<'static, conch_driver::Result<Self::Session>>;

    /// Connects through a `direct-tcpip` channel of `outer` (a jump host)
    /// and runs the handshake. Adapters without a runtime to run the inner
    /// connection's pump on say it is unsupported.
    fn connect_via(
        outer: Session,
        host: String,
        port: u16,
        options: ClientOptions,
    ) -> BoxFuture<'static, conch_driver::Result<Self::Session>> {
        let _ = (outer, host, port, options);
        Box::pin(async {
            Err(Error::Io(Arc::new(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "jump hosts need an async runtime",
            ))))
        })
    }

    /// The driver's session underneath the adapter's.
    fn driver_session(session: &Self::Session) -> &Session;

    /// The driver's channel as the adapter's.
    fn channel(channel: conch_driver::Channel) -> Self::Channel;

    /// The driver's channel underneath the adapter's.
    fn driver_channel(channel: &Self::Channel) -> &conch_driver::Channel;

    /// Hands the endpoint's work to the caller: the future itself for an
    /// async adapter; for a blocking one, its output once run to the end.
    fn wait<'a, T: Send + 'a>(work: BoxFuture<'a, T>) -> Self::Wait<'a, T>;

    /// The opposite of [`EndpointRuntime::wait`], for code written once
    /// for every runtime (e.g. tests): what a call returned, as a future.
    fn into_future<'a, T: Send + 'a>(waited: Self::Wait<'a, T>) -> BoxFuture<'a, T>;
}

/// Every async runtime of the driver ([`conch_driver::Runtime`]: tokio,
/// smol) is an endpoint runtime the same way: its `connect`, its handle
/// types, and the endpoint's work handed over as a future to await.
impl<R: conch_driver::Runtime> EndpointRuntime for R {
    type Session = R::Session;
    type Channel = R::Channel;
    type Wait<'a, T: Send + 'a> = BoxFuture<'a, T>;

    fn connect(
        host: String,
        port: u16,
        options: ClientOptions,
    ) -> BoxFuture<'static, conch_driver::Result<R::Session>> {
        Box::pin(async move { conch_driver::runtime::connect::<R>(&host, port, options).await })
    }

    fn connect_via(
        outer: Session,
        host: String,
        port: u16,
        options: ClientOptions,
    ) -> BoxFuture<'static, conch_driver::Result<R::Session>> {
        Box::pin(async move {
            conch_driver::runtime::connect_via::<R>(&outer, &host, port, options).await
        })
    }

    fn driver_session(session: &R::Session) -> &Session {
        R::driver_session(session)
    }

    fn channel(channel: conch_driver::Channel) -> R::Channel {
        R::channel(channel)
    }

    fn driver_channel(channel: &R::Channel) -> &conch_driver::Channel {
        R::driver_channel(channel)
    }

    fn wait<'a, T: Send + 'a>(work: BoxFuture<'a, T>) -> BoxFuture<'a, T> {
        work
    }

    fn into_future<'a, T: Send + 'a>(waited: BoxFuture<'a, T>) -> BoxFuture<'a, T> {
        waited
    }
}

/// Asks the user for a secret: `prompt` is the text to show, `echo` whether
/// the answer may be shown as typed (keyboard-interactive says so per
/// prompt). `None` gives up.
///
/// The password prompt is called on a thread of its own, off the
/// runtime's. A keyboard-interactive prompt is called from the connecting
/// task itself (the driver's responder is synchronous): while it waits for
/// the user it holds that task's thread, which on a current-thread runtime
/// also holds the connection's I/O until the answer comes.
pub type PromptFn = dyn Fn(&str, bool) -> Option<String> + Send + Sync;

/// How many passwords are asked through the prompt before giving up, by
/// default (OpenSSH's `NumberOfPasswordPrompts`).
const PASSWORD_PROMPTS: usize = 3;

/// Runs one command over SSH and yields its stream (Twisted's
/// `SSHCommandClientEndpoint`).
///
/// [`CommandEndpoint::new_connection`] connects, checks the host key
/// against known_hosts, authenticates, opens a `session` channel and
/// `exec`s the command; [`CommandEndpoint::existing_connection`] only opens
/// a channel on an authenticated session and `exec`s (and never closes the
/// session). [`CommandEndpoint::connect`] yields the command's channel.
///
/// With an async adapter, cancelling is dropping the `connect` future, in
/// any phase: before the TCP connection, during the handshake or
/// authentication (the connection is closed), or while the channel opens
/// or the command starts (the channel is closed; a new connection with it,
/// an existing one stays up). With conch-blocking the calls return when
/// done (each phase within the options' timeouts).
pub struct CommandEndpoint<R: EndpointRuntime> {
    command: Vec<u8>,
    target: Target<R>,
}

impl<R: EndpointRuntime> Clone for CommandEndpoint<R> {
    fn clone(&self) -> Self {
        CommandEndpoint {
            command: self.command.clone(),
            target: match &self.target {
                Target::New(n) => Target::New(n.clone()),
                Target::Existing(s) => Target::Existing(s.clone()),
            },
        }
    }
}

enum Target<R: EndpointRuntime> {
    New(Box<NewConnection>),
    Existing(R::Session),
}

/// Everything a new connection needs (Twisted's `newConnection` arguments).
#[derive(Clone)]
struct NewConnection {
    username: String,
    host: String,
    port: u16,
    signers: Vec<Arc<dyn Signer>>,
    /// Wiped when dropped.
    password: Option<Zeroizing<String>>,
    password_prompt: Option<Arc<PromptFn>>,
    #[cfg(unix)]
    agent: Option<AgentClient>,
    known_hosts: Option<KnownHostsFile>,
    known_hosts_policy: KnownHostsPolicy,
    ui: Option<Arc<dyn HostKeyUi>>,
    host_key_policy: Option<HostKeyPolicy>,
    verifier: Option<KnownHostsVerifier>,
    options: ClientOptions,
    /// The jump host to connect through, if any.
    via: Option<Session>,
    /// Jump hosts connected to in order (after `via`) when connecting,
    /// each with its own checks and credentials (`ProxyJump`).
    jumps: Vec<NewConnection>,
    identities_only: bool,
    preferred: Option<Vec<String>>,
    password_prompts: usize,
    env: Vec<(String, String)>,
}

impl<R: EndpointRuntime> fmt::Debug for CommandEndpoint<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CommandEndpoint");
        d.field("command", &String::from_utf8_lossy(&self.command));
        match &self.target {
            Target::New(n) => d
                .field("username", &n.username)
                .field("host", &n.host)
                .field("port", &n.port)
                .field("keys", &n.signers.len())
                .field("password", &n.password.as_ref().map(|_| ".."))
                .field("known_hosts", &n.known_hosts)
                .field("known_hosts_policy", &n.known_hosts_policy)
                .field("host_key_policy", &n.host_key_policy),
            Target::Existing(s) => d.field("existing", &R::driver_session(s).server_name()),
        };
        d.finish_non_exhaustive()
    }
}

impl<R: EndpointRuntime> CommandEndpoint<R> {
    /// An endpoint that makes a new connection to `host` (port 22 unless
    /// [`CommandEndpoint::port`] says otherwise) as `username` and runs
    /// `command` there (one string, interpreted by the server's shell).
    ///
    /// Host keys are checked against `~/.ssh/known_hosts`, asking on the
    /// terminal about unknown hosts ([`ConsoleUi`]), unless
    /// [`CommandEndpoint::known_hosts`], [`CommandEndpoint::ui`] or
    /// [`CommandEndpoint::host_key_policy`] say otherwise. Without `HOME`
    /// and without those, every key is refused.
    pub fn new_connection(
        command: impl AsRef<[u8]>,
        username: impl Into<String>,
        host: impl Into<String>,
    ) -> Self {
        CommandEndpoint {
            command: command.as_ref().to_vec(),
            target: Target::New(Box::new(NewConnection {
                username: username.into(),
                host: host.into(),
                port: 22,
                signers: Vec::new(),
                password: None,
                password_prompt: None,
                #[cfg(unix)]
                agent: None,
                known_hosts: None,
                known_hosts_policy: KnownHostsPolicy::Ask,
                ui: None,
                host_key_policy: None,
                verifier: None,
                options: ClientOptions::default(),
                via: None,
                jumps: Vec::new(),
                identities_only: false,
                preferred: None,
                password_prompts: PASSWORD_PROMPTS,
                env: Vec::new(),
            })),
        }
    }

    /// An endpoint that runs `command` on a new channel of an authenticated
    /// `session`. Its connection is shared, never closed by the endpoint.
    pub fn existing_connection(session: &R::Session, command: impl AsRef<[u8]>) -> Self {
        CommandEndpoint {
            command: command.as_ref().to_vec(),
            target: Target::Existing(session.clone()),
        }
    }

    fn new_mut(&mut self) -> Option<&mut NewConnection> {
        match &mut self.target {
            Target::New(n) => Some(n),
            Target::Existing(_) => None,
        }
    }

    /// Sets a new connection's setting (no effect on an existing one).
    fn with(mut self, f: impl FnOnce(&mut NewConnection)) -> Self {
        if let Some(n) = self.new_mut() {
            f(n);
        }
        self
    }

    /// Connects through `jump`, an authenticated session to a jump host
    /// (`ssh -J`): over a `direct-tcpip` channel of it rather than TCP.
    /// Chain endpoints for more hops. The host key check and the
    /// authentication are this endpoint's own.
    pub fn via(self, jump: &R::Session) -> Self {
        let outer = R::driver_session(jump).clone();
        self.with(|n| n.via = Some(outer))
    }

    /// Connects through `hop`'s host first (a `ProxyJump` hop), when this
    /// endpoint connects: after the hops given before, with `hop`'s own
    /// host key check and credentials (its command is not run). An
    /// existing-connection `hop` is [`CommandEndpoint::via`] its session.
    pub(crate) fn jump_through(self, hop: CommandEndpoint<R>) -> Self {
        match hop.target {
            Target::Existing(session) => self.via(&session),
            Target::New(mut hop) => self.with(|n| {
                // A hop's own jump hosts come before it: one flat chain.
                n.jumps.append(&mut hop.jumps);
                n.jumps.push(*hop);
            }),
        }
    }

    /// The TCP port (default 22).
    pub fn port(self, port: u16) -> Self {
        self.with(|n| n.port = port)
    }

    /// Keys to offer for public key authentication, in order (after the
    /// agent's). Only keys the server accepts are used to sign.
    pub fn keys(self, keys: impl IntoIterator<Item = PrivateKey>) -> Self {
        self.with(|n| {
            n.signers
                .extend(keys.into_iter().map(|k| Arc::new(k) as Arc<dyn Signer>))
        })
    }

    /// Another signer to offer (a hardware token, an agent key ...).
    pub fn signer(self, signer: Arc<dyn Signer>) -> Self {
        self.with(|n| n.signers.push(signer))
    }

    /// A password, used for `password` and for keyboard-interactive
    /// prompts if the server offers them. Prefer keys where possible.
    pub fn password(self, password: impl Into<String>) -> Self {
        let password = Zeroizing::new(password.into());
        self.with(|n| n.password = Some(password))
    }

    /// Asks for secrets when the server wants them: the password (`"USER@HOST's
    /// password: "`, up to three times) when no password was given, and
    /// keyboard-interactive prompts. A prompt answering `None` gives up
    /// that method (for keyboard-interactive: [`EndpointError::Cancelled`]).
    pub fn password_prompt(self, prompt: Arc<PromptFn>) -> Self {
        self.with(|n| n.password_prompt = Some(prompt))
    }

    /// An ssh-agent whose keys are offered first (Unix only: the agent
    /// listens on a Unix socket). If it cannot be reached
    /// when connecting, authentication goes on without it.
    #[cfg(unix)]
    pub fn agent(self, agent: AgentClient) -> Self {
        self.with(|n| n.agent = Some(agent))
    }

    /// The known_hosts file host keys are checked against, and where keys
    /// of new hosts are saved.
    pub fn known_hosts(self, file: KnownHostsFile) -> Self {
        self.with(|n| n.known_hosts = Some(file))
    }

    /// What to do with a host not in known_hosts (default
    /// [`KnownHostsPolicy::Ask`]: ask the [`CommandEndpoint::ui`]).
    pub fn known_hosts_policy(self, policy: KnownHostsPolicy) -> Self {
        self.with(|n| n.known_hosts_policy = policy)
    }

    /// Who is asked about unknown hosts and shown warnings (default
    /// [`ConsoleUi`]: `/dev/tty`, and no without a terminal). Autonomous
    /// programs give their own, or a non-asking policy.
    pub fn ui(self, ui: Arc<dyn HostKeyUi>) -> Self {
        self.with(|n| n.ui = Some(ui))
    }

    /// Verifies host keys with this policy instead of known_hosts (e.g.
    /// [`HostKeyPolicy::trust_keys`]).
    pub fn host_key_policy(self, policy: HostKeyPolicy) -> Self {
        self.with(|n| n.host_key_policy = Some(policy))
    }

    /// Verifies host keys with this known_hosts verifier (its files,
    /// policy and UI) instead of [`CommandEndpoint::known_hosts`] and
    /// [`CommandEndpoint::known_hosts_policy`]. When it accepted a changed
    /// key ([`KnownHostsPolicy::AcceptChanged`]), no password or
    /// keyboard-interactive answer is sent.
    pub fn known_hosts_verifier(self, verifier: KnownHostsVerifier) -> Self {
        self.with(|n| n.verifier = Some(verifier))
    }

    /// Protocol settings and timeouts; their host key policy is replaced
    /// by the endpoint's.
    pub fn options(self, options: ClientOptions) -> Self {
        self.with(|n| n.options = options)
    }

    /// Offers only the agent's keys that are also among the signers given
    /// ([`CommandEndpoint::signer`]), as ssh's `IdentitiesOnly yes`.
    pub fn identities_only(self, on: bool) -> Self {
        self.with(|n| n.identities_only = on)
    }

    /// The authentication methods to use, in order (ssh's
    /// `PreferredAuthentications`, with the methods its
    /// `PubkeyAuthentication`, `PasswordAuthentication` and
    /// `KbdInteractiveAuthentication` turn off left out). Default:
    /// publickey, password, keyboard-interactive.
    pub fn preferred_authentications(self, methods: Vec<String>) -> Self {
        self.with(|n| n.preferred = Some(methods))
    }

    /// How many times the password is asked (ssh's
    /// `NumberOfPasswordPrompts`, 3).
    pub fn password_prompts(self, prompts: u32) -> Self {
        self.with(|n| n.password_prompts = prompts as usize)
    }

    /// Environment variables passed to the command (`env` requests, RFC
    /// 4254 section 6.4) before it starts, as ssh's `SetEnv` and
    /// `SendEnv`; the server may ignore them (sshd's `AcceptEnv`).
    pub fn env(self, vars: Vec<(String, String)>) -> Self {
        self.with(|n| n.env = vars)
    }

    /// The command run.
    pub fn command(&self) -> &[u8] {
        &self.command
    }

    /// Connects (for a new connection) and starts the command; gives its
    /// stream (awaited with an async adapter, at once with the blocking
    /// one). A new connection lives as long as the channel.
    pub fn connect(&self) -> R::Wait<'_, Result<R::Channel, EndpointError>> {
        R::wait(Box::pin(async move {
            let (_, channel) = self.establish_and_exec().await?;
            Ok(channel)
        }))
    }

    /// [`CommandEndpoint::connect`], also giving the session, e.g. to run
    /// more commands on the same connection with
    /// [`CommandEndpoint::existing_connection`].
    pub fn connect_with_session(&self) -> R::Wait<'_, Result<SessionAndChannel<R>, EndpointError>> {
        R::wait(Box::pin(self.establish_and_exec()))
    }

    /// Only the connection: connected, host key checked and authenticated
    /// (for a new connection), without running the command; e.g. to start a
    /// shell or a subsystem instead. An existing connection is given as is.
    pub fn connect_session(&self) -> R::Wait<'_, Result<R::Session, EndpointError>> {
        R::wait(Box::pin(self.session()))
    }

    async fn session(&self) -> Result<R::Session, EndpointError> {
        match &self.target {
            Target::Existing(session) => Ok(session.clone()),
            Target::New(n) => n.establish::<R>().await,
        }
    }

    async fn establish_and_exec(&self) -> Result<(R::Session, R::Channel), EndpointError> {
        let session = self.session().await?;
        let env = match &self.target {
            Target::New(n) => n.env.as_slice(),
            Target::Existing(_) => &[],
        };
        let channel = exec(R::driver_session(&session), env, &self.command).await?;
        Ok((session, R::channel(channel)))
    }
}

/// Opens a session channel on `session`, passes `env` and execs `command`.
async fn exec(
    session: &Session,
    env: &[(String, String)],
    command: &[u8],
) -> Result<conch_driver::Channel, EndpointError> {
    let channel = session
        .open_session()
        .await
        .map_err(|e| EndpointError::from_driver(e, Phase::Command))?;
    send_env(&channel, env)?;
    channel
        .exec(command)
        .await
        .map_err(|e| EndpointError::from_driver(e, Phase::Command))?;
    Ok(channel)
}

/// Sends `env` requests without asking for replies, as ssh does
/// (clientloop.c `client_session2_setup`): a server that refuses a
/// variable (not in its `AcceptEnv`) does not stop the command.
pub fn send_env(
    channel: &conch_driver::Channel,
    env: &[(String, String)],
) -> Result<(), EndpointError> {
    for (name, value) in env {
        channel
            .send_request(&conch_core::ChannelRequest::Env {
                name: name.clone(),
                value: value.clone(),
            })
            .map_err(|e| EndpointError::from_driver(e, Phase::Command))?;
    }
    Ok(())
}

impl NewConnection {
    /// Connects through the jump hosts, then verifies the host key and
    /// authenticates. A jump host's failure names it
    /// ([`EndpointError::JumpHost`]).
    async fn establish<R: EndpointRuntime>(&self) -> Result<R::Session, EndpointError> {
        let mut via = self.via.clone();
        for hop in &self.jumps {
            let session = hop.establish_one::<R>(via.take()).await.map_err(|error| {
                EndpointError::JumpHost {
                    user: hop.username.clone(),
                    host: hop.host.clone(),
                    port: hop.port,
                    error: Box::new(error),
                }
            })?;
            // The inner connection's channel keeps this session alive.
            via = Some(R::driver_session(&session).clone());
        }
        self.establish_one::<R>(via).await
    }

    /// Connects (through `via`, if given), verifies the host key and
    /// authenticates.
    async fn establish_one<R: EndpointRuntime>(
        &self,
        via: Option<Session>,
    ) -> Result<R::Session, EndpointError> {
        let mut options = self.options.clone();
        options.host_key_policy = self.host_key_policy();
        let connecting = match via {
            Some(outer) => R::connect_via(outer, self.host.clone(), self.port, options),
            None => R::connect(self.host.clone(), self.port, options),
        };
        let session = connecting
            .await
            .map_err(|e| EndpointError::from_driver(e, Phase::Connect))?;
        self.authenticate(R::driver_session(&session))
            .await
            .map_err(|e| EndpointError::from_driver(e, Phase::Auth))?;
        let ui = self.ui();
        for banner in R::driver_session(&session).take_banners() {
            ui.warn(&with_newline(banner));
        }
        Ok(session)
    }

    fn ui(&self) -> Arc<dyn HostKeyUi> {
        self.ui
            .clone()
            .unwrap_or_else(|| Arc::new(ConsoleUi::new()))
    }

    fn host_key_policy(&self) -> HostKeyPolicy {
        if let Some(policy) = &self.host_key_policy {
            return policy.clone();
        }
        if let Some(verifier) = &self.verifier {
            return verifier.clone().into_policy();
        }
        let file = self
            .known_hosts
            .clone()
            .or_else(KnownHostsFile::user_default);
        match file {
            Some(file) => {
                KnownHostsVerifier::new(file, self.known_hosts_policy, self.ui()).into_policy()
            }
            None => HostKeyPolicy::reject_all(),
        }
    }

    /// The credentials for the walk: agent keys first (listed now; an
    /// unreachable agent gives none), then the keys given, then the
    /// password, and keyboard-interactive answered with the password or the
    /// prompt.
    async fn auth_methods(&self) -> AuthMethods {
        let mut signers: Vec<Arc<dyn Signer>> = Vec::new();
        #[cfg(unix)]
        if let Some(agent) = self.agent.clone() {
            // The agent socket is blocking; keep it off the runtime's threads.
            let agent_keys = run_on_thread(move || agent.signers())
                .await
                .unwrap_or_default();
            // IdentitiesOnly: only the agent's copies of keys given here
            // (ssh.c `load_public_identity_files`, sshconnect2.c
            // `pubkey_prepare`).
            let given: Vec<_> = self.signers.iter().map(|s| s.public_key()).collect();
            signers.extend(
                agent_keys
                    .into_iter()
                    .filter(|k| !self.identities_only || given.contains(&k.public_key())),
            );
        }
        for signer in &self.signers {
            let key = signer.public_key();
            if !signers.iter().any(|s| s.public_key() == key) {
                signers.push(signer.clone());
            }
        }
        let mut methods = AuthMethods::new();
        methods.signers = signers;
        methods.preferred = self.preferred();
        // Both copies are wiped when the methods are dropped.
        methods.password = self.password.as_ref().map(|p| p.to_string());
        if let Some(password) = &self.password {
            methods = methods.keyboard_interactive(PasswordResponder(password.to_string()));
        } else if let Some(prompt) = &self.password_prompt {
            methods = methods.keyboard_interactive(PromptResponder(prompt.clone()));
        }
        methods
    }

    /// The methods' order, without password and keyboard-interactive
    /// when the verifier accepted a changed host key.
    fn preferred(&self) -> Option<Vec<String>> {
        if !self
            .verifier
            .as_ref()
            .is_some_and(KnownHostsVerifier::accepted_changed_key)
        {
            return self.preferred.clone();
        }
        let methods = self.preferred.clone().unwrap_or_else(|| {
            ["publickey", "password", "keyboard-interactive"]
                .map(String::from)
                .to_vec()
        });
        Some(
            methods
                .into_iter()
                .filter(|m| m != "password" && m != "keyboard-interactive")
                .collect(),
        )
    }

    async fn authenticate(&self, session: &Session) -> conch_driver::Result<()> {
        let methods = self.auth_methods().await;
        let allowed = match session.authenticate(&self.username, methods).await {
            Ok(()) => return Ok(()),
            Err(Error::AuthFailed { methods, .. }) => methods,
            Err(e) => return Err(e),
        };
        // Keys and any given password did not do: ask for a password the
        // way `ssh` does, if the server takes one and someone can answer.
        let (Some(prompt), None) = (&self.password_prompt, &self.password) else {
            return Err(auth_failed(allowed));
        };
        if self
            .preferred()
            .is_some_and(|p| !p.iter().any(|m| m == "password"))
        {
            return Err(auth_failed(allowed));
        }
        let mut allowed = allowed;
        let text = format!("{}@{}'s password: ", self.username, self.host);
        for _ in 0..self.password_prompts {
            if !allowed.iter().any(|m| m == "password") {
                break;
            }
            let (prompt, text) = (prompt.clone(), text.clone());
            let answer = run_on_thread(move || prompt(&text, false)).await.flatten();
            // No answer: no password, as when none was given.
            let Some(password) = answer.map(Zeroizing::new) else {
                break;
            };
            match session.auth_password(&self.username, &password).await? {
                conch_driver::AuthResult::Success => return Ok(()),
                conch_driver::AuthResult::Failure { methods, .. } => allowed = methods,
                // An expired password cannot be changed here.
                _ => {}
            }
        }
        Err(auth_failed(allowed))
    }
}

fn auth_failed(methods: Vec<String>) -> Error {
    Error::AuthFailed {
        methods,
        partial_success: false,
    }
}

fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Answers keyboard-interactive prompts by asking the user.
struct PromptResponder(Arc<PromptFn>);

impl KeyboardInteractive for PromptResponder {
    fn respond(
        &mut self,
        name: &str,
        instruction: &str,
        prompts: &[Prompt],
    ) -> Option<Vec<String>> {
        let mut header = String::new();
        for line in [name, instruction] {
            if !line.is_empty() {
                header.push_str(line);
                header.push('\n');
            }
        }
        prompts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let text = if i == 0 {
                    format!("{header}{}", p.prompt)
                } else {
                    p.prompt.clone()
                };
                (self.0)(&text, p.echo)
            })
            .collect()
    }
}
