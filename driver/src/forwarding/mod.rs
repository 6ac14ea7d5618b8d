//! Port forwarding over a runtime's sockets, written once for the async
//! adapters (RFC 4254 section 7, OpenSSH PROTOCOL section 2.4):
//!
//! - client: [`local_forward`] (`ssh -L`, TCP or Unix-socket listener, or
//!   with no target a SOCKS4/4a/5 proxy, `ssh -D`) and
//!   [`serve_remote_forwards`] (`ssh -R`: the server's connections
//!   connected to local targets);
//! - server: [`serve_forwards`], which connects the `direct-*` channels
//!   and binds the listeners the [`crate::ServerHandler`] allowed.
//!
//! Every forwarded connection is [`splice`]d: both ways, half-close kept,
//! backpressure per channel. Unix sockets use `async-io`'s reactor, which
//! any runtime can drive.

mod listeners;
pub mod socks;
mod splice;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use conch_core::{ChannelOpenFailure, Forward, ForwardChannel};

use crate::error::Error;
use crate::forward::{ForwardRequest, PendingOpen};
use crate::runtime::Runtime;
use crate::server::ServerSession;
use crate::session::Session;

pub use listeners::{ForwardListener, Stop};
pub use splice::splice;

/// Where a forwarded connection goes: a TCP `host:port` or a Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host name or address and a port.
    Tcp {
        /// Host (resolved where the connection is made).
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix-domain socket path.
    Unix(PathBuf),
    /// Wherever each connection's SOCKS4, 4a or 5 CONNECT request names
    /// (a TCP host and port): the proxy of `ssh -D` for [`local_forward`]
    /// (as `None` there), and of `ssh -R [bind:]port` with no target for
    /// [`serve_remote_forwards`] (OpenSSH 7.6's remote dynamic
    /// forwarding: the server listens, the client is the proxy).
    Socks,
}

/// Where a local listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// TCP, on the first of these addresses that can be bound.
    Tcp(Vec<SocketAddr>),
    /// A Unix-domain socket at this path (created; removed when the
    /// listener stops).
    Unix(PathBuf),
}

/// Called with each forwarded connection that could not be opened (the
/// server's refusal, [`Error::ChannelOpenRefused`], or a local connect
/// error), for the application to report as it sees fit.
pub type OnFailure = Arc<dyn Fn(&Error) + Send + Sync>;

/// Listens locally (`ssh -L`, or `ssh -D` when `target` is `None`): each
/// accepted connection becomes a `direct-tcpip` (or
/// `direct-streamlocal@openssh.com`) channel to `target`, or to what its
/// SOCKS request names, spliced to the connection. Runs until the returned
/// listener is dropped or stopped, or the session ends; connections already
/// forwarded go on until they end. Binding errors (port in use,
/// permission) are returned at once.
pub async fn local_forward<R: Runtime>(
    session: &Session,
    listen: &Listen,
    target: Option<Target>,
    on_failure: Option<OnFailure>,
) -> io::Result<ForwardListener> {
    let session = session.clone();
    listeners::bind::<R, _, _>(listen, session.clone(), move |stream, origin| {
        let session = session.clone();
        let target = target.clone();
        let on_failure = on_failure.clone();
        async move {
            let r = forward_one(&session, stream, origin, target).await;
            if let (Err(e), Some(f)) = (r, on_failure) {
                f(&e);
            }
        }
    })
    .await
}

/// One local connection: the channel opened for it, then spliced.
async fn forward_one<S>(
    session: &Session,
    mut stream: S,
    origin: Option<SocketAddr>,
    target: Option<Target>,
) -> crate::Result<()>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send,
{
    let (target, socks) = match target {
        Some(Target::Socks) | None => {
            let req = socks::read_request(&mut stream).await?;
            let t = Target::Tcp {
                host: req.host,
                port: req.port,
            };
            (t, Some(req.version))
        }
        Some(t) => (t, None),
    };
    let (originator, originator_port) = match origin {
        Some(a) => (a.ip().to_string(), u32::from(a.port())),
        // What OpenSSH names a Unix-socket client by.
        None => ("127.0.0.1".to_string(), 0),
    };
    let open = match &target {
        Target::Tcp { host, port } => ForwardChannel::DirectTcpip {
            host: host.clone(),
            port: u32::from(*port),
            originator,
            originator_port,
        },
        Target::Unix(path) => ForwardChannel::DirectStreamlocal {
            path: path.to_string_lossy().into_owned(),
        },
        // Replaced by the request's host above.
        Target::Socks => return Err(socks_unresolved().into()),
    };
    let channel = match session.open_forward(&open).await {
        Ok(c) => c,
        Err(e) => {
            if let Some(v) = socks {
                let _ = socks::reply(&mut stream, v, false).await;
            }
            return Err(e);
        }
    };
    if let Some(v) = socks {
        socks::reply(&mut stream, v, true).await?;
    }
    splice(channel, stream).await?;
    Ok(())
}

/// A remote forward the client asked for, and where its connections go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTarget {
    /// The forward as the server agreed to it, with the bound port for a
    /// TCP forward asked on port 0 (what [`Session::request_forward`]
    /// returned).
    pub forward: Forward,
    /// Where to connect each of its connections.
    pub target: Target,
}

/// Client: connects each `forwarded-*` channel the server opens for one of
/// `targets` to its local target and splices them (`ssh -R`), until the
/// session ends. A channel whose local connect fails is refused with
/// `connect failed` and the error's text, as OpenSSH does; the error also
/// goes to `on_failure`.
pub async fn serve_remote_forwards<R: Runtime>(
    session: Session,
    targets: Vec<RemoteTarget>,
    on_failure: Option<OnFailure>,
) {
    serve_forwarded::<R>(session, targets, None, on_failure).await
}

/// Client: [`serve_remote_forwards`], and also agent forwarding (`ssh -A`,
/// OpenSSH PROTOCOL.agent): each `auth-agent@openssh.com` channel the
/// server opens (admitted only after
/// [`crate::Channel::request_agent_forwarding`]) is connected to `agent`,
/// the local agent's socket (`SSH_AUTH_SOCK`), and spliced; with no
/// `agent` it is refused.
///
/// The agent's messages are relayed as bytes, never gathered: what either
/// side can make the other hold is the splice's fixed buffer and the
/// channel's receive window, however long a message claims to be. Message
/// lengths are the agent's to bound (OpenSSH's agent drops a client whose
/// message exceeds 256 KiB).
pub async fn serve_forwarded<R: Runtime>(
    session: Session,
    targets: Vec<RemoteTarget>,
    agent: Option<Target>,
    on_failure: Option<OnFailure>,
) {
    while let Some(pending) = session.accept_forwarded().await {
        let target = match pending.target() {
            ForwardChannel::AuthAgent => agent.clone(),
            forwarded => targets
                .iter()
                .find(|t| matches_forward(&t.forward, forwarded))
                .map(|t| t.target.clone()),
        };
        let on_failure = on_failure.clone();
        R::spawn(async move {
            let Some(target) = target else {
                // Asked for through the session but not given a target here.
                let _ = pending.reject(
                    ChannelOpenFailure::AdministrativelyProhibited,
                    "open failed",
                );
                return;
            };
            if let Err(e) = connect_and_splice::<R>(pending, &target).await {
                if let Some(f) = on_failure {
                    f(&e);
                }
            }
        });
    }
}

/// Whether a `forwarded-*` channel belongs to `forward` (by bound port or
/// path, as the core checks it).
fn matches_forward(forward: &Forward, channel: &ForwardChannel) -> bool {
    match (forward, channel) {
        (Forward::Tcpip { port, .. }, ForwardChannel::ForwardedTcpip { port: p, .. }) => port == p,
        (Forward::Streamlocal { path }, ForwardChannel::ForwardedStreamlocal { path: p }) => {
            path == p
        }
        _ => false,
    }
}

/// The error for a [`Target::Socks`] where a connection must be made
/// without a SOCKS request to name its host.
fn socks_unresolved() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "a SOCKS target is named by each connection's request",
    )
}

/// Remote dynamic forwarding (`ssh -R [bind:]port`, OpenSSH 7.6): the
/// channel is accepted at once and carries the SOCKS exchange, as OpenSSH
/// does; the target its request names is connected, the answer sent
/// (failed: the connect error is also returned), then the two spliced.
async fn socks_over_channel<R: Runtime>(pending: PendingOpen) -> crate::Result<()> {
    let mut channel = pending.accept()?;
    let req = socks::read_request(&mut channel).await?;
    let target = Target::Tcp {
        host: req.host,
        port: req.port,
    };
    match listeners::connect::<R>(&target).await {
        Ok(stream) => {
            socks::reply(&mut channel, req.version, true).await?;
            splice(channel, stream).await?;
            Ok(())
        }
        Err(e) => {
            let _ = socks::reply(&mut channel, req.version, false).await;
            Err(e.into())
        }
    }
}

/// Connects `target`, then accepts `pending` and splices the two; a failed
/// connect refuses the channel with the error's text. A SOCKS target is
/// [`socks_over_channel`].
async fn connect_and_splice<R: Runtime>(
    pending: PendingOpen,
    target: &Target,
) -> crate::Result<()> {
    if *target == Target::Socks {
        return socks_over_channel::<R>(pending).await;
    }
    match listeners::connect::<R>(target).await {
        Ok(stream) => {
            let channel = pending.accept()?;
            splice(channel, stream).await?;
            Ok(())
        }
        Err(e) => {
            let _ = pending.reject(ChannelOpenFailure::ConnectFailed, &os_error_text(&e));
            Err(e.into())
        }
    }
}

/// An I/O error's text as `strerror` gives it ("Connection refused"), which
/// is what OpenSSH puts in an open failure.
pub fn os_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Server: answers the client's forwarding requests that the handler
/// allowed, over the runtime's sockets, until the connection ends: each
/// `direct-*` channel is connected to its target (refused with `connect
/// failed` and the error's text if that fails) and spliced; each listen
/// request binds (to the handler's address; `""`, `"*"` and `"0.0.0.0"`
/// all addresses, `"localhost"` the loopback ones), answers with the port
/// bound, and forwards each accepted connection as a `forwarded-*` channel;
/// each cancel stops its listener. Every listener stops when the connection
/// ends; Unix-socket ones remove their socket file.
pub async fn serve_forwards<R: Runtime>(session: ServerSession) {
    let mut active: Vec<(Forward, u32, ForwardListener)> = Vec::new();
    while let Some(request) = session.next_forward_request().await {
        match request {
            ForwardRequest::Open(pending) => {
                let target = match pending.target() {
                    ForwardChannel::DirectTcpip { host, port, .. } => Target::Tcp {
                        host: host.clone(),
                        port: u16::try_from(*port).unwrap_or(0),
                    },
                    ForwardChannel::DirectStreamlocal { path } => Target::Unix(path.into()),
                    _ => continue,
                };
                R::spawn(async move {
                    let _ = connect_and_splice::<R>(pending, &target).await;
                });
            }
            ForwardRequest::Listen(l) if l.cancel => {
                let before = active.len();
                active.retain(|(f, bound, _)| !same_forward(f, *bound, &l.requested));
                if active.len() < before {
                    l.accept(0);
                } else {
                    l.reject();
                }
            }
            ForwardRequest::Listen(l) => {
                match listeners::bind_remote::<R>(&session, &l.requested, &l.bind).await {
                    Ok((listener, bound)) => {
                        active.push((l.requested.clone(), bound, listener));
                        l.accept(bound);
                    }
                    Err(_) => l.reject(),
                }
            }
        }
    }
    // The connection ended: dropping the listeners stops them.
    drop(active);
}

/// Whether a cancel names the forward: same path, or same address and the
/// port asked for or bound.
fn same_forward(forward: &Forward, bound: u32, cancel: &Forward) -> bool {
    match (forward, cancel) {
        (
            Forward::Tcpip { address, port },
            Forward::Tcpip {
                address: a,
                port: p,
            },
        ) => address == a && (port == p || bound == *p),
        (Forward::Streamlocal { path }, Forward::Streamlocal { path: p }) => path == p,
        _ => false,
    }
}
