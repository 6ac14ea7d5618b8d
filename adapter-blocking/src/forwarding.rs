//! Forwarding and jump hosts without a runtime: the driver's logic
//! ([`conch_driver::forwarding`], [`conch_driver::runtime::connect_via`])
//! run on threads ([`crate::runtime::Threads`]), each call returning when
//! the driver's future would complete.

use std::io;

use conch_driver::block_on::block_on;
use conch_driver::forwarding::{ForwardListener, Listen, OnFailure, RemoteTarget, Target};

use crate::runtime::Threads;
use crate::{ClientOptions, Result, ServerSession, Session};

/// Local forwarding (`ssh -L`, or with no target the SOCKS proxy of
/// `ssh -D`): see [`conch_driver::forwarding::local_forward`]. Returns once
/// the listener is bound (binding errors at once); a thread accepts and
/// each forwarded connection has its own, until the listener is dropped or
/// stopped or the session ends.
pub fn local_forward(
    session: &Session,
    listen: &Listen,
    target: Option<Target>,
    on_failure: Option<OnFailure>,
) -> io::Result<ForwardListener> {
    block_on(conch_driver::forwarding::local_forward::<Threads>(
        session.driver(),
        listen,
        target,
        on_failure,
    ))
}

/// Remote forwarding's client half (`ssh -R`): connects each channel the
/// server opens for one of `targets` to its local target, blocking the
/// calling thread until the session ends. See
/// [`conch_driver::forwarding::serve_remote_forwards`].
pub fn serve_remote_forwards(
    session: &Session,
    targets: Vec<RemoteTarget>,
    on_failure: Option<OnFailure>,
) {
    block_on(conch_driver::forwarding::serve_remote_forwards::<Threads>(
        session.driver().clone(),
        targets,
        on_failure,
    ))
}

/// The server's forwarding, blocking the calling thread until the
/// connection ends: see [`conch_driver::forwarding::serve_forwards`].
pub fn serve_forwards(session: ServerSession) {
    block_on(conch_driver::forwarding::serve_forwards::<Threads>(
        session.driver().clone(),
    ))
}

/// Connects to `host:port` through `jump`, an authenticated session (a
/// jump host, `ssh -J`): see [`conch_driver::runtime::connect_via`]. The
/// new session has its own host key check (`options`) and its own
/// authentication to do next; chain hops by passing it as the next `jump`.
pub fn connect_via(
    jump: &Session,
    host: &str,
    port: u16,
    options: ClientOptions,
) -> Result<Session> {
    block_on(conch_driver::runtime::connect_via::<Threads>(
        jump.driver(),
        host,
        port,
        options,
    ))
}
