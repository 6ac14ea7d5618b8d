//! Port forwarding's session calls, for both roles (RFC 4254 section 7,
//! OpenSSH PROTOCOL section 2.4): opening `direct-*` channels, asking for
//! remote forwards, and the channels and listen requests the peer sends,
//! each held undecided until the application answers it.
//!
//! Channels the peer opens that the application must decide (a client's
//! `forwarded-*`, a server's `direct-*` its handler allowed) wait as
//! [`PendingOpen`]s: the application connects its side first and only then
//! confirms, so a refused target reaches the peer as an open failure with
//! the reason ("connect failed: Connection refused"), as OpenSSH does. The
//! mechanism is not tied to forwarding: any channel type the driver queues
//! this way is decided the same way.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use conch_core::{ChannelId, ChannelOpenFailure, Forward, ForwardChannel};

use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::server::ServerSession;
use crate::session::{Session, SessionInner};
use crate::shared::{lock, Holder, Shared};

/// A channel the peer asked to open, waiting for the application's answer.
/// Dropping it unanswered refuses the channel.
#[derive(Debug)]
pub struct PendingOpen {
    inner: Arc<SessionInner>,
    id: ChannelId,
    target: ForwardChannel,
    answered: bool,
}

impl PendingOpen {
    /// What the channel is for: where to connect (`direct-*`, on a server)
    /// or which forward it came in on and from where (`forwarded-*`, on a
    /// client).
    pub fn target(&self) -> &ForwardChannel {
        &self.target
    }

    /// Confirms the channel; it is then an ordinary byte stream.
    pub fn accept(mut self) -> Result<Channel> {
        self.answered = true;
        let id = self.id;
        let key = self.inner.mutate(|sh| {
            sh.conn.accept_channel(id)?;
            Ok(sh.add_channel(id, Holder::Held))
        })?;
        Ok(Channel::new(self.inner.clone(), key, id))
    }

    /// Refuses the channel with `reason` and `description` (RFC 4254
    /// section 5.1), as the peer's user will read them.
    pub fn reject(mut self, reason: ChannelOpenFailure, description: &str) -> Result<()> {
        self.answered = true;
        let id = self.id;
        self.inner
            .mutate(|sh| sh.conn.reject_channel(id, reason, description))
    }
}

impl Drop for PendingOpen {
    fn drop(&mut self) {
        if !self.answered {
            let id = self.id;
            let _ = self.inner.mutate(|sh| {
                sh.conn.reject_channel(
                    id,
                    ChannelOpenFailure::AdministrativelyProhibited,
                    "open failed",
                )
            });
        }
    }
}

/// A request from the client to listen (`tcpip-forward` or
/// `streamlocal-forward@openssh.com`) or to stop (`cancel-*`), which the
/// server's handler allowed; answer it with [`ListenRequest::accept`] once
/// the listener is bound (or closed). Dropping it unanswered refuses it.
#[derive(Debug)]
pub struct ListenRequest {
    inner: Arc<SessionInner>,
    ticket: u64,
    /// The forward as the client asked for it.
    pub requested: Forward,
    /// What to bind instead, as the handler decided (e.g. the loopback
    /// address in place of the one asked for, `GatewayPorts no`).
    pub bind: Forward,
    /// Whether this cancels the forward rather than opening it.
    pub cancel: bool,
    answered: bool,
}

impl ListenRequest {
    /// Answers success; `bound_port` is the port bound, sent to the client
    /// when it asked for port 0 (RFC 4254 section 7.1).
    pub fn accept(mut self, bound_port: u32) {
        self.answered = true;
        answer_global(&self.inner, self.ticket, true, bound_port);
    }

    /// Answers failure (REQUEST_FAILURE carries no reason).
    pub fn reject(mut self) {
        self.answered = true;
        answer_global(&self.inner, self.ticket, false, 0);
    }
}

impl Drop for ListenRequest {
    fn drop(&mut self) {
        if !self.answered {
            answer_global(&self.inner, self.ticket, false, 0);
        }
    }
}

fn answer_global(inner: &SessionInner, ticket: u64, success: bool, port: u32) {
    let mut sh = lock(&inner.shared);
    sh.forwards.answer_global(ticket, success, port);
    sh.flush_global_answers();
    sh.drain();
    sh.wake_pump();
}

/// What the peer asked of a server's forwarding: see
/// [`ServerSession::next_forward_request`].
#[derive(Debug)]
pub enum ForwardRequest {
    /// Open a `direct-tcpip` / `direct-streamlocal@openssh.com` channel:
    /// connect to its target, then accept or refuse it.
    Open(PendingOpen),
    /// Listen for (or stop listening for) a remote forward.
    Listen(ListenRequest),
}

/// Most channel opens and listen requests queued for the application; a
/// peer asking for more at once is refused (the core also bounds opens by
/// its channel limit).
const MAX_QUEUED: usize = 256;

/// The forwarding state of one connection.
#[derive(Debug, Default)]
pub(crate) struct Forwards {
    /// Channels the peer opened, undecided, oldest first.
    opens: VecDeque<(ChannelId, ForwardChannel)>,
    /// Server: allowed listen requests not yet handed out, with their
    /// ticket.
    listens: VecDeque<(u64, Forward, Forward, bool)>,
    /// Replies owed to the peer's want-reply global requests, in the
    /// order they came (RFC 4254 section 4): `None` until decided. The
    /// front has ticket `owed_base`.
    owed: VecDeque<Option<(bool, u32)>>,
    owed_base: u64,
}

impl Forwards {
    fn answer_global(&mut self, ticket: u64, success: bool, port: u32) {
        let Some(i) = ticket.checked_sub(self.owed_base) else {
            return;
        };
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| self.owed.get_mut(i)) {
            *slot = Some((success, port));
        }
    }

    /// A reply owed for a request just received; its ticket.
    fn owe(&mut self) -> u64 {
        self.owed.push_back(None);
        self.owed_base + self.owed.len() as u64 - 1
    }
}

impl Shared {
    /// Sends the decided replies at the front of the owed queue, in order.
    fn flush_global_answers(&mut self) {
        while let Some(Some((success, port))) = self.forwards.owed.front().copied() {
            self.forwards.owed.pop_front();
            self.forwards.owed_base += 1;
            let _ = self.conn.reply_forward(success, port);
        }
    }

    /// A want-reply global request from the peer (anything the core does
    /// not answer itself): a server's handler decides the forwarding
    /// requests; every other one is refused (RFC 4254 section 4), in turn.
    pub(crate) fn on_global_request(&mut self, name: &str, data: &[u8]) {
        let ticket = self.forwards.owe();
        let allowed = match (&self.server, Forward::decode(name, data)) {
            (Some(server), Some(Ok((forward, cancel)))) => {
                let user = server.user.clone().unwrap_or_default();
                let decided = if cancel {
                    // Cancelling is always allowed: it can only take away.
                    Some(forward.clone())
                } else {
                    server.handler.remote_forward(&user, &forward)
                };
                decided.map(|bind| (forward, bind, cancel))
            }
            _ => None,
        };
        match allowed {
            Some((requested, bind, cancel)) if self.forwards.listens.len() < MAX_QUEUED => {
                self.forwards
                    .listens
                    .push_back((ticket, requested, bind, cancel));
                self.session_wakers.wake_all();
            }
            _ => {
                self.forwards.answer_global(ticket, false, 0);
                self.flush_global_answers();
            }
        }
    }

    /// A channel the peer opened that the application decides with a
    /// [`PendingOpen`]: queued (or refused when too many wait).
    pub(crate) fn queue_open(&mut self, id: ChannelId, target: ForwardChannel) {
        if self.forwards.opens.len() >= MAX_QUEUED {
            let _ = self.conn.reject_channel(
                id,
                ChannelOpenFailure::ResourceShortage,
                "too many pending channels",
            );
            return;
        }
        self.forwards.opens.push_back((id, target));
        self.session_wakers.wake_all();
    }
}

/// Waits for the next queued open (or, on a server, listen request).
async fn next_request(inner: &Arc<SessionInner>, listens: bool) -> Option<ForwardRequest> {
    poll_fn(|cx| {
        let mut sh = lock(&inner.shared);
        if listens {
            if let Some((ticket, requested, bind, cancel)) = sh.forwards.listens.pop_front() {
                return Poll::Ready(Some(ForwardRequest::Listen(ListenRequest {
                    inner: inner.clone(),
                    ticket,
                    requested,
                    bind,
                    cancel,
                    answered: false,
                })));
            }
        }
        if let Some((id, target)) = sh.forwards.opens.pop_front() {
            return Poll::Ready(Some(ForwardRequest::Open(PendingOpen {
                inner: inner.clone(),
                id,
                target,
                answered: false,
            })));
        }
        if sh.error.is_some() {
            return Poll::Ready(None);
        }
        sh.session_wakers.register(cx.waker());
        Poll::Pending
    })
    .await
}

/// Opens a channel for one forwarded connection and waits for the answer.
pub(crate) async fn open_forward(
    inner: &Arc<SessionInner>,
    target: &ForwardChannel,
) -> Result<Channel> {
    let (key, id) = inner.mutate(|sh| {
        let id = sh.conn.open_forward_channel(target)?;
        Ok((sh.add_channel(id, Holder::Held), id))
    })?;
    let channel = Channel::new(inner.clone(), key, id);
    channel.wait_open().await?;
    Ok(channel)
}

impl Session {
    /// Opens a `direct-tcpip` channel to `host:port` as seen from the
    /// server (RFC 4254 section 7.2): a byte stream to the target, as
    /// `ssh -W host:port` gives. A refused open is
    /// [`Error::ChannelOpenRefused`] with the server's reason and text.
    pub async fn open_direct_tcpip(&self, host: &str, port: u16) -> Result<Channel> {
        self.open_forward(&ForwardChannel::DirectTcpip {
            host: host.to_string(),
            port: port.into(),
            // What OpenSSH's client sends for `-W` (no local socket).
            originator: "127.0.0.1".into(),
            originator_port: 0,
        })
        .await
    }

    /// Opens a `direct-streamlocal@openssh.com` channel to the Unix socket
    /// `path` on the server (OpenSSH PROTOCOL section 2.4).
    pub async fn open_direct_streamlocal(&self, path: &str) -> Result<Channel> {
        self.open_forward(&ForwardChannel::DirectStreamlocal {
            path: path.to_string(),
        })
        .await
    }

    /// Opens any forwarding channel with its origin filled in (a local
    /// forward names the connection it carries).
    pub async fn open_forward(&self, target: &ForwardChannel) -> Result<Channel> {
        open_forward(&self.inner, target).await
    }

    /// Asks the server to listen for us (`ssh -R`; RFC 4254 section 7.1,
    /// OpenSSH PROTOCOL section 2.4) and returns the port it bound: the
    /// one asked for, or the one it allocated for port 0 (0 for a Unix
    /// socket). Connections to it arrive from
    /// [`Session::accept_forwarded`]. A refusal is
    /// [`Error::RequestRefused`].
    pub async fn request_forward(&self, forward: &Forward) -> Result<u32> {
        let reply = self
            .global_request(forward.request_name(false), &forward.encode())
            .await?;
        Ok(match forward {
            Forward::Tcpip { port: 0, .. } => reply
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| Error::RequestRefused {
                    request: "tcpip-forward (no port in the reply)".into(),
                })?,
            Forward::Tcpip { port, .. } => *port,
            Forward::Streamlocal { .. } => 0,
        })
    }

    /// Cancels a forward (name a port-0 forward by its allocated port).
    pub async fn cancel_forward(&self, forward: &Forward) -> Result<()> {
        self.global_request(forward.request_name(true), &forward.encode())
            .await
            .map(drop)
    }

    /// The next `forwarded-tcpip` / `forwarded-streamlocal@openssh.com`
    /// channel the server opened for one of our forwards (those matching
    /// none are refused before they get here), or `None` once the
    /// connection has ended. Connect the local side, then accept it (or
    /// refuse it, which the server's peer sees as a closed connection).
    pub async fn accept_forwarded(&self) -> Option<PendingOpen> {
        match next_request(&self.inner, false).await? {
            ForwardRequest::Open(open) => Some(open),
            // Not queued on a client.
            ForwardRequest::Listen(_) => None,
        }
    }
}

impl ServerSession {
    /// The next forwarding request of the client that the handler allowed
    /// ([`crate::ServerHandler::direct_forward`],
    /// [`crate::ServerHandler::remote_forward`]): a channel to connect, or
    /// a listener to open or close. `None` once the connection has ended.
    /// `conch_driver::forwarding::serve_forwards` answers them over a
    /// runtime's sockets.
    pub async fn next_forward_request(&self) -> Option<ForwardRequest> {
        next_request(&self.inner, true).await
    }

    /// Opens a `forwarded-tcpip` / `forwarded-streamlocal@openssh.com`
    /// channel for a connection accepted on a listener the client asked for.
    pub async fn open_forward(&self, origin: &ForwardChannel) -> Result<Channel> {
        open_forward(&self.inner, origin).await
    }
}
