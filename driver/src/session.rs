//! [`Session`]: the application's handle on a client connection.

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::Bytes;
use conch_core::{NegotiatedAlgorithms, PublicKey};

use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::host_key::{HostKeyPolicy, HostKeyVerdict, ServerName};
use crate::options::{os_seed, ClientOptions};
use crate::pump::Engine;
use crate::shared::{lock, Holder, Shared, SharedRef};

/// What every handle of one connection shares. When the last handle (a
/// session, server session or channel) goes, the connection is ended and
/// the pump closes the socket, so dropping a `connect` future or forgetting
/// a session never leaves a connection behind.
#[derive(Debug)]
pub(crate) struct SessionInner {
    pub(crate) shared: SharedRef,
    seed: [u8; 32],
    server_name: Option<ServerName>,
    host_key_policy: Option<HostKeyPolicy>,
}

impl SessionInner {
    pub(crate) fn new(
        shared: Shared,
        seed: [u8; 32],
        server_name: Option<ServerName>,
        host_key_policy: Option<HostKeyPolicy>,
    ) -> Arc<Self> {
        Arc::new(SessionInner {
            shared: Arc::new(Mutex::new(shared)),
            seed,
            server_name,
            host_key_policy,
        })
    }

    /// Runs `f` on the connection, handles the events it caused and wakes
    /// the pump to send what it queued.
    pub(crate) fn mutate<T>(
        &self,
        f: impl FnOnce(&mut Shared) -> std::result::Result<T, conch_core::ApiMisuse>,
    ) -> Result<T> {
        let mut sh = lock(&self.shared);
        if let Some(e) = sh.end_error() {
            return Err(e);
        }
        let r = f(&mut sh);
        sh.drain();
        sh.wake_pump();
        r.map_err(Error::from_core)
    }

    /// Waits until the pump has finished (socket closed).
    pub(crate) async fn closed(&self) {
        poll_fn(|cx| {
            let mut sh = lock(&self.shared);
            if sh.pump_done {
                return Poll::Ready(());
            }
            sh.session_wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Ends the connection with a DISCONNECT and waits for the socket to close.
    pub(crate) async fn close(&self) {
        {
            let mut sh = lock(&self.shared);
            sh.conn.disconnect("closed by application");
            sh.drain();
            sh.wake_pump();
        }
        self.closed().await
    }

    pub(crate) fn end_error(&self) -> Option<Error> {
        lock(&self.shared).end_error()
    }

    pub(crate) fn seed(&self) -> [u8; 32] {
        self.seed
    }
}

impl Drop for SessionInner {
    fn drop(&mut self) {
        let mut sh = lock(&self.shared);
        sh.conn.disconnect("session dropped");
        sh.drain();
        sh.wake_pump();
    }
}

/// A client SSH session: one connection, authenticated with the `auth_*`
/// calls, carrying any number of [`Channel`]s at once.
///
/// Cheap to clone (all clones are the same connection) and `Send + Sync`.
/// The connection stays up while any clone or any of its channels exists,
/// and ends (with a DISCONNECT) when the last one is dropped or
/// [`Session::close`] is called.
///
/// A session is made by an adapter's `connect` (`conch-tokio`, `conch-smol`,
/// `conch-blocking`), which runs the I/O pump; its methods are runtime
/// agnostic futures.
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

/// Creates a client session for `server` and the [`Engine`] an adapter runs
/// over the socket. Then call [`Session::handshake`].
pub fn client(options: &ClientOptions, server: ServerName) -> (Session, Engine) {
    let seed = options.rng_seed.unwrap_or_else(os_seed);
    let (conn, transcript) =
        crate::record_file::client_connection(&options.config, &options.record, seed);
    // The connection's logs name the server as ssh's do ("host" or
    // "[host]:port").
    conn.span().record("peer", tracing::field::display(&server));
    let mut shared = Shared::new(conn, None);
    shared.start_recording(transcript);
    let inner = SessionInner::new(
        shared,
        seed,
        Some(server),
        Some(options.host_key_policy.clone()),
    );
    let engine = Engine::new(inner.shared.clone());
    (Session { inner }, engine)
}

/// A step of the handshake as seen by the task running it.
enum HandshakeStep {
    VerifyHostKey(PublicKey),
    Ready,
}

impl Session {
    /// Runs the handshake up to user authentication: the key exchange, the
    /// host key verification with the options' policy (outside the I/O
    /// pump, so a verifier may take its time), and the userauth service
    /// request. Adapters' `connect` calls this under the handshake timeout.
    pub async fn handshake(&self) -> Result<()> {
        loop {
            let step = poll_fn(|cx| {
                let mut sh = lock(&self.inner.shared);
                if let Some(e) = sh.end_error() {
                    return Poll::Ready(Err(e));
                }
                if !sh.client.host_key_decided {
                    if let Some(key) = &sh.client.host_key {
                        return Poll::Ready(Ok(HandshakeStep::VerifyHostKey(key.clone())));
                    }
                }
                if sh.client.userauth_ready {
                    return Poll::Ready(Ok(HandshakeStep::Ready));
                }
                sh.session_wakers.register(cx.waker());
                Poll::Pending
            })
            .await?;
            match step {
                HandshakeStep::Ready => return Ok(()),
                HandshakeStep::VerifyHostKey(key) => self.verify_host_key(&key)?,
            }
        }
    }

    /// Waits until the key exchange has shown the server's host key (or
    /// the handshake is past it): the part of the handshake the server
    /// alone decides, which ssh bounds with `ConnectTimeout` (the banner
    /// exchange and the key exchange), unlike the host key question that
    /// follows, which waits on the user. See [`crate::start_client`].
    pub async fn host_key_received(&self) -> Result<()> {
        poll_fn(|cx| {
            let mut sh = lock(&self.inner.shared);
            if let Some(e) = sh.end_error() {
                return Poll::Ready(Err(e));
            }
            if sh.client.host_key.is_some() || sh.client.userauth_ready {
                return Poll::Ready(Ok(()));
            }
            sh.session_wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// The error for a handshake that did not reach the host key in time:
    /// [`Error::Timeout`] of `"banner exchange"` while the server has not
    /// even sent its identification line, else of `"key exchange"`. (Also
    /// ends the connection.)
    pub fn handshake_timed_out(&self) -> Error {
        let mut sh = lock(&self.inner.shared);
        let phase = if sh.conn.peer_identification().is_none() {
            "banner exchange"
        } else {
            "key exchange"
        };
        sh.conn.disconnect("connect timeout");
        sh.drain();
        sh.wake_pump();
        Error::Timeout(phase)
    }

    fn verify_host_key(&self, key: &PublicKey) -> Result<()> {
        let server = self
            .inner
            .server_name
            .clone()
            .unwrap_or_else(|| ServerName::new("", 22));
        let verdict = match &self.inner.host_key_policy {
            Some(policy) => policy.verify(&server, key),
            None => HostKeyVerdict::Reject {
                reason: "no host key policy".into(),
            },
        };
        let accept = verdict == HostKeyVerdict::Accept;
        self.inner.mutate(|sh| {
            sh.client.host_key_decided = true;
            // One `Connection` for either role: the client's call goes
            // through `apply`.
            let decision = if accept {
                conch_core::Command::AcceptHostKey
            } else {
                conch_core::Command::RejectHostKey
            };
            sh.conn.apply(decision).map(drop)
        })?;
        let fingerprint = key.fingerprint();
        match verdict {
            HostKeyVerdict::Accept => Ok(()),
            HostKeyVerdict::Changed { detail } => Err(Error::HostKeyChanged {
                host: server.to_string(),
                fingerprint,
                detail,
            }),
            HostKeyVerdict::Reject { reason } => Err(Error::HostKeyRejected {
                fingerprint,
                reason,
            }),
        }
    }

    /// The server this session was opened to.
    pub fn server_name(&self) -> Option<&ServerName> {
        self.inner.server_name.as_ref()
    }

    /// The server's host key, once the key exchange has shown it.
    pub fn host_key(&self) -> Option<PublicKey> {
        lock(&self.inner.shared).client.host_key.clone()
    }

    /// The algorithms of the latest key exchange.
    pub fn algorithms(&self) -> Option<NegotiatedAlgorithms> {
        lock(&self.inner.shared).algorithms.clone()
    }

    /// Takes the banners the server sent before authentication (RFC 4252
    /// section 5.4), control characters already removed; show them to the user.
    pub fn take_banners(&self) -> Vec<String> {
        lock(&self.inner.shared).client.banners.drain(..).collect()
    }

    /// The seed of this connection's RNG: with the same seed and the same
    /// input the core produces the same bytes (for recording sessions).
    pub fn rng_seed(&self) -> [u8; 32] {
        self.inner.seed()
    }

    /// Whether user authentication has succeeded.
    pub fn is_authenticated(&self) -> bool {
        lock(&self.inner.shared).conn.is_authenticated()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        lock(&self.inner.shared).error.is_some()
    }

    /// Why the connection ended, if it has.
    pub fn disconnect_reason(&self) -> Option<Error> {
        self.inner.end_error()
    }

    /// Opens a `session` channel (RFC 4254 section 6.1). Send requests on it
    /// (pty, env, then shell, exec or subsystem) before using it as a stream.
    ///
    /// Dropping the future before it resolves closes the channel once the
    /// server answers.
    pub async fn open_session(&self) -> Result<Channel> {
        self.open_channel("session", &[]).await
    }

    /// Opens a channel of any type with its type-specific data already
    /// encoded (RFC 4254 section 5.1); [`Error::ChannelOpenRefused`] carries
    /// the server's reason code and text if it says no.
    pub async fn open_channel(&self, kind: &str, extra: &[u8]) -> Result<Channel> {
        let (key, id) = self.inner.mutate(|sh| {
            let id = sh.conn.open_channel(kind, extra)?;
            Ok((sh.add_channel(id, Holder::Held), id))
        })?;
        let channel = Channel::new(self.inner.clone(), key, id);
        channel.wait_open().await?;
        Ok(channel)
    }

    /// Opens a session channel and runs `command` on it (RFC 4254 section
    /// 6.5): the channel's read side is the command's stdout, its write side
    /// its stdin, [`Channel::stderr`] its stderr.
    pub async fn exec(&self, command: impl AsRef<[u8]>) -> Result<Channel> {
        let channel = self.open_session().await?;
        channel.exec(command).await?;
        Ok(channel)
    }

    /// Sends a global request (RFC 4254 section 4) and waits for the answer:
    /// the response data, or [`Error::RequestRefused`].
    pub async fn global_request(&self, name: &str, data: &[u8]) -> Result<Bytes> {
        let ticket = self.inner.mutate(|sh| {
            sh.conn.global_request(name, data, true)?;
            Ok(sh.globals.ticket())
        })?;
        let mut guard = GlobalTicket {
            inner: &self.inner,
            ticket,
            taken: false,
        };
        let reply = poll_fn(|cx| {
            let mut sh = lock(&self.inner.shared);
            if let Some(r) = sh.globals.take(ticket) {
                return Poll::Ready(Ok(r));
            }
            if let Some(e) = sh.end_error() {
                return Poll::Ready(Err(e));
            }
            sh.session_wakers.register(cx.waker());
            Poll::Pending
        })
        .await?;
        guard.taken = true;
        reply.ok_or_else(|| Error::RequestRefused {
            request: name.to_string(),
        })
    }

    /// Ends the session: sends DISCONNECT (`by application`) and waits until
    /// the socket is closed. Every channel ends with it.
    pub async fn close(&self) {
        self.inner.close().await
    }

    /// Waits until the connection has ended and its socket is closed.
    pub async fn closed(&self) {
        self.inner.closed().await
    }
}

/// Forgets a global request's reply if its waiter goes away.
struct GlobalTicket<'a> {
    inner: &'a SessionInner,
    ticket: u64,
    taken: bool,
}

impl Drop for GlobalTicket<'_> {
    fn drop(&mut self) {
        if !self.taken {
            lock(&self.inner.shared).globals.abandon(self.ticket);
        }
    }
}
