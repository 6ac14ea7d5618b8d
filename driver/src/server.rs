//! The server role: the application decides authentication and requests
//! through a [`ServerHandler`], and serves each started session channel
//! (exec, shell, subsystem) as a stream from [`ServerSession::accept_channel`].

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use conch_core::{
    AuthAttempt, AuthDecision, ChannelOpenFailure, ChannelRequest, Forward, ForwardChannel,
    WindowSize,
};

use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::login::AcceptEnv;
use crate::options::{os_seed, ServerOptions};
use crate::pump::Engine;
use crate::session::SessionInner;
use crate::shared::{lock, Holder, ServerState, Shared};

/// The application's decisions for a server connection.
///
/// The methods are called from the connection's I/O pump while it holds the
/// connection's lock: answer quickly from data at hand (no blocking I/O, no
/// calls back into the session).
pub trait ServerHandler: Send + Sync + 'static {
    /// Decides one authentication attempt by `user` (RFC 4252). A
    /// publickey attempt with `signed: false` only asks whether the key
    /// would do; when `signed` is true the signature has been verified.
    fn auth(&self, user: &str, attempt: &AuthAttempt) -> AuthDecision;

    /// [`Self::auth`] knowing the client's address (`None` when the
    /// stream was not accepted by a listener and
    /// [`crate::ServerOptions::peer`] was not set): what a user
    /// certificate's `source-address` is checked against. By default it
    /// calls [`Self::auth`].
    fn auth_from(
        &self,
        peer: Option<std::net::SocketAddr>,
        user: &str,
        attempt: &AuthAttempt,
    ) -> AuthDecision {
        let _ = peer;
        self.auth(user, attempt)
    }

    /// Decides whether the authenticated `user` may open a channel of
    /// `kind` (`data` is the type-specific part). By default only `session`
    /// channels are allowed.
    fn channel_open(
        &self,
        user: &str,
        kind: &str,
        data: &[u8],
    ) -> std::result::Result<(), (ChannelOpenFailure, String)> {
        let _ = (user, data);
        if kind == "session" {
            Ok(())
        } else {
            Err((
                ChannelOpenFailure::UnknownChannelType,
                format!("channel type {kind:?} not supported"),
            ))
        }
    }

    /// Decides whether the authenticated `user` may open a `direct-tcpip`
    /// or `direct-streamlocal@openssh.com` channel to `target` (RFC 4254
    /// section 7.2; OpenSSH's `AllowTcpForwarding`, `PermitOpen`). Allowed
    /// ones are handed to [`ServerSession::next_forward_request`] to be
    /// connected. By default none is allowed.
    fn direct_forward(
        &self,
        user: &str,
        target: &ForwardChannel,
    ) -> std::result::Result<(), (ChannelOpenFailure, String)> {
        let _ = (user, target);
        Err((
            ChannelOpenFailure::AdministrativelyProhibited,
            "open failed".to_string(),
        ))
    }

    /// Decides whether the authenticated `user` may have the server listen
    /// for `forward` (RFC 4254 section 7.1, `tcpip-forward`; OpenSSH
    /// PROTOCOL section 2.4, `streamlocal-forward@openssh.com`): `Some`
    /// with what to bind (the request itself, or e.g. its port on the
    /// loopback address as `GatewayPorts no` does), `None` to refuse.
    /// Allowed ones are handed to [`ServerSession::next_forward_request`].
    /// By default none is allowed.
    fn remote_forward(&self, user: &str, forward: &Forward) -> Option<Forward> {
        let _ = (user, forward);
        None
    }

    /// Decides a channel request (RFC 4254 section 6). By default exec,
    /// shell, subsystem, window-change and signal are accepted, pty-req as
    /// [`ServerHandler::accept_pty`] says, env as
    /// [`ServerHandler::accept_env`] says, the rest refused. An accepted
    /// exec, shell or subsystem hands the channel to
    /// [`ServerSession::accept_channel`].
    fn channel_request(&self, user: &str, request: &ChannelRequest) -> bool {
        match request {
            ChannelRequest::PtyReq { .. } => self.accept_pty(user),
            ChannelRequest::Env { name, .. } => self.accept_env(user, name),
            ChannelRequest::AuthAgentReq => self.accept_agent_forwarding(user),
            ChannelRequest::Exec { .. }
            | ChannelRequest::Shell
            | ChannelRequest::Subsystem { .. }
            | ChannelRequest::WindowChange { .. }
            | ChannelRequest::Signal { .. } => true,
            _ => false,
        }
    }

    /// Whether `user`'s sessions may have a terminal (`pty-req`, RFC 4254
    /// section 6.2). By default no, so a client is told at once ("PTY
    /// allocation request failed") rather than getting a session without
    /// one. Say yes when the channels are served by
    /// [`crate::process::serve_session`] (which allocates a real
    /// pseudo-terminal) or by a program of the application's that handles
    /// [`IncomingChannel::pty`] itself.
    fn accept_pty(&self, user: &str) -> bool {
        let _ = user;
        false
    }

    /// Whether `user`'s sessions may forward the client's agent
    /// (`auth-agent-req@openssh.com`, OpenSSH PROTOCOL.agent; sshd_config's
    /// `AllowAgentForwarding`). By default no. Say yes when the channels
    /// are served by [`crate::process::serve_session`], which makes the
    /// session's agent socket ([`IncomingChannel::agent_forwarding`]).
    fn accept_agent_forwarding(&self, user: &str) -> bool {
        let _ = user;
        false
    }

    /// Whether `user` may set environment variable `name` (`env`, RFC 4254
    /// section 6.4), sshd_config(5)'s `AcceptEnv`. By default only the
    /// locale, `LANG` and `LC_*` ([`AcceptEnv::default`]).
    fn accept_env(&self, user: &str, name: &str) -> bool {
        let _ = user;
        AcceptEnv::default().allows(name)
    }
}

/// What a session channel was started to run (RFC 4254 section 6.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// `exec`: run this command line (bytes; the shell decides the encoding).
    Exec(Vec<u8>),
    /// `shell`: the user's login shell.
    Shell,
    /// `subsystem`: a named service such as `sftp`.
    Subsystem(String),
}

/// A `pty-req` the client sent (RFC 4254 section 6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtyRequest {
    /// TERM value.
    pub term: String,
    /// Terminal size.
    pub size: WindowSize,
    /// Encoded terminal modes (section 8).
    pub modes: Vec<u8>,
}

/// A session channel the client started, ready to be served.
#[derive(Debug)]
pub struct IncomingChannel<C = Channel> {
    /// The channel: read the client's stdin, write stdout, `stderr()` for
    /// stderr, then report the exit status and drop or close it.
    pub channel: C,
    /// What to run.
    pub command: SessionCommand,
    /// `env` requests accepted before the start, in order.
    pub env: Vec<(String, String)>,
    /// The pseudo-terminal requested, if any.
    pub pty: Option<PtyRequest>,
    /// The client asked for agent forwarding on this session (and
    /// [`ServerHandler::accept_agent_forwarding`] allowed it): serve its
    /// agent socket with [`crate::ServerSession::open_forward`] and
    /// [`conch_core::ForwardChannel::AuthAgent`], as
    /// [`crate::process::serve_session`] does.
    pub agent_forwarding: bool,
    /// The authenticated user.
    pub user: String,
}

impl<C> IncomingChannel<C> {
    /// The same request with the channel wrapped (adapters wrap the
    /// driver's channel in their own stream type).
    pub fn map<D>(self, f: impl FnOnce(C) -> D) -> IncomingChannel<D> {
        IncomingChannel {
            channel: f(self.channel),
            command: self.command,
            env: self.env,
            pty: self.pty,
            agent_forwarding: self.agent_forwarding,
            user: self.user,
        }
    }
}

/// The application's handle on one accepted server connection. Cheap to
/// clone; the connection ends when the last handle (and channel) is dropped.
#[derive(Debug, Clone)]
pub struct ServerSession {
    pub(crate) inner: Arc<SessionInner>,
}

/// Creates a server session for one accepted connection and the [`Engine`]
/// an adapter runs over the socket.
pub fn server(options: &ServerOptions) -> (ServerSession, Engine) {
    let seed = options.rng_seed.unwrap_or_else(os_seed);
    let (conn, transcript) =
        crate::record_file::server_connection(&options.config, &options.record, seed);
    let state = ServerState {
        handler: options.handler.clone(),
        peer: options.peer,
        user: None,
        incoming: Default::default(),
    };
    let mut shared = Shared::new(conn, Some(state));
    shared.start_recording(transcript);
    let inner = SessionInner::new(shared, seed, None, None);
    let engine = Engine::new(inner.shared.clone());
    (ServerSession { inner }, engine)
}

impl ServerSession {
    /// The next session channel the client started (with exec, shell or
    /// subsystem), or `None` once the connection has ended.
    pub async fn accept_channel(&self) -> Option<IncomingChannel> {
        poll_fn(|cx| {
            let mut guard = lock(&self.inner.shared);
            let sh = &mut *guard;
            let Some(server) = sh.server.as_mut() else {
                return Poll::Ready(None);
            };
            let user = server.user.clone().unwrap_or_default();
            while let Some(key) = server.incoming.pop_front() {
                let Some(st) = sh.channels.get_mut(&key) else {
                    continue;
                };
                st.holder = Holder::Held;
                let Some(command) = st.server.command.take() else {
                    continue;
                };
                let incoming = IncomingChannel {
                    channel: Channel::new(self.inner.clone(), key, st.id),
                    command,
                    env: std::mem::take(&mut st.server.env),
                    pty: st.server.pty.take(),
                    agent_forwarding: st.server.agent_forwarding,
                    user,
                };
                return Poll::Ready(Some(incoming));
            }
            if sh.error.is_some() {
                return Poll::Ready(None);
            }
            sh.session_wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Waits until the client has authenticated; returns the user name.
    pub async fn authenticated(&self) -> Result<String> {
        poll_fn(|cx| {
            let mut sh = lock(&self.inner.shared);
            if let Some(user) = sh.server.as_ref().and_then(|s| s.user.clone()) {
                return Poll::Ready(Ok(user));
            }
            if let Some(e) = sh.end_error() {
                return Poll::Ready(Err(e));
            }
            sh.session_wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Names the client in the connection's logs (the `peer` field of its
    /// `tracing` span); the listener calls it with the socket's address.
    pub fn set_peer(&self, peer: std::net::SocketAddr) {
        let sh = lock(&self.inner.shared);
        sh.conn.span().record("peer", tracing::field::display(peer));
    }

    /// The authenticated user, if authentication has succeeded.
    pub fn user(&self) -> Option<String> {
        lock(&self.inner.shared)
            .server
            .as_ref()
            .and_then(|s| s.user.clone())
    }

    /// The seed of this connection's RNG.
    pub fn rng_seed(&self) -> [u8; 32] {
        self.inner.seed()
    }

    /// Why the connection ended, if it has.
    pub fn disconnect_reason(&self) -> Option<Error> {
        self.inner.end_error()
    }

    /// Ends the connection (DISCONNECT `by application`) and waits until the
    /// socket is closed.
    pub async fn close(&self) {
        self.inner.close().await
    }

    /// Waits until the connection has ended and its socket is closed.
    pub async fn closed(&self) {
        self.inner.closed().await
    }
}
