//! Global requests (RFC 4254 section 4): ours, matched in order to the
//! peer's replies, and the peer's, answered in order.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::error::{ApiMisuse, Error, PeerMisbehaved};
use crate::event::Event;
use crate::forward::{ActiveForwards, Forward, ForwardChannel};
use crate::msg;
use crate::outbox::Outbox;
use crate::wire::{Encode, Reader};

use super::replies::ReplyQueue;

/// OpenSSH's keepalive, sent by `ServerAliveInterval`/`ClientAliveInterval`.
/// Any reply proves the peer alive, so we answer failure (as OpenSSH does
/// for requests it does not implement) and swallow replies to our own.
const KEEPALIVE: &str = "keepalive@openssh.com";
/// OpenSSH's host key rotation announcement and proof request (OpenSSH
/// PROTOCOL section 2.5). We do not update known hosts from it.
const HOSTKEYS: &str = "hostkeys-00@openssh.com";
const HOSTKEYS_PROVE: &str = "hostkeys-prove-00@openssh.com";

/// One of our want-reply global requests awaiting its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Awaiting {
    /// The application's: the reply becomes [`Event::GlobalReply`].
    Application,
    /// The application's request for a forward, or its cancel (RFC 4254
    /// section 7.1): the reply also updates the forwards we hold.
    Forward { forward: Forward, cancel: bool },
    /// Our keepalive: the reply only shows the peer is alive.
    Keepalive,
}

/// Global request state of one connection.
#[derive(Debug, Default)]
pub(super) struct GlobalRequests {
    /// Our want-reply requests, oldest first (replies come in order, RFC 4254
    /// section 4).
    ours: VecDeque<Awaiting>,
    /// Replies we owe the peer.
    theirs: ReplyQueue,
    /// For each request the application is to answer, oldest first,
    /// whether it is a `tcpip-forward` on port 0, whose success reply
    /// carries the allocated port (RFC 4254 section 7.1).
    theirs_port_zero: VecDeque<bool>,
    /// The forwards the peer agreed to open for us.
    active: ActiveForwards,
}

impl GlobalRequests {
    /// Sends SSH_MSG_GLOBAL_REQUEST from the application.
    pub(super) fn send(&mut self, name: &str, data: &[u8], want_reply: bool, out: &mut Outbox) {
        let mut w = out.message(msg::GLOBAL_REQUEST);
        w.put_str(name);
        w.put_bool(want_reply);
        w.put_raw(data);
        if want_reply {
            // A forward we could not decode is still sent as asked; only
            // the ones we understand are tracked.
            let awaiting = match Forward::decode(name, data) {
                Some(Ok((forward, cancel))) => Awaiting::Forward { forward, cancel },
                _ => Awaiting::Application,
            };
            self.ours.push_back(awaiting);
        }
    }

    /// Whether a `forwarded-*` channel the peer opens matches a forward it
    /// agreed to (see [`ActiveForwards::matches`]).
    pub(super) fn expects(&self, channel: &ForwardChannel) -> bool {
        self.active.matches(channel)
    }

    /// Whether the oldest request the application is to answer is a
    /// `tcpip-forward` on port 0.
    pub(super) fn pending_wants_port(&self) -> bool {
        self.theirs_port_zero.front().copied().unwrap_or(false)
    }

    /// Sends `keepalive@openssh.com` with want-reply.
    pub(super) fn send_keepalive(&mut self, out: &mut Outbox) {
        let mut w = out.message(msg::GLOBAL_REQUEST);
        w.put_str(KEEPALIVE);
        w.put_bool(true);
        self.ours.push_back(Awaiting::Keepalive);
    }

    /// SSH_MSG_GLOBAL_REQUEST from the peer.
    pub(super) fn on_request(
        &mut self,
        payload: &Bytes,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let name = r.ascii()?;
        let want_reply = r.bool()?;
        match name {
            KEEPALIVE | HOSTKEYS | HOSTKEYS_PROVE => {
                if want_reply {
                    self.theirs
                        .push_automatic(false, |success| send_reply(out, success, &[]))?;
                }
            }
            _ => {
                if want_reply {
                    self.theirs.push_application()?;
                    let port_zero = matches!(
                        Forward::decode(name, r.remaining()),
                        Some(Ok((Forward::Tcpip { port: 0, .. }, false)))
                    );
                    self.theirs_port_zero.push_back(port_zero);
                }
                events.push_back(Event::GlobalRequest {
                    name: name.to_string(),
                    data: payload.slice_ref(r.remaining()),
                    want_reply,
                });
            }
        }
        Ok(())
    }

    /// SSH_MSG_REQUEST_SUCCESS or SSH_MSG_REQUEST_FAILURE from the peer.
    pub(super) fn on_reply(
        &mut self,
        success: bool,
        payload: &Bytes,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let awaiting = self
            .ours
            .pop_front()
            .ok_or(PeerMisbehaved::UnsolicitedReply)?;
        // REQUEST_SUCCESS may carry response-specific data (e.g. the port
        // bound for `tcpip-forward`, RFC 4254 section 7.1); FAILURE none.
        let data = if success {
            payload.slice(payload.len().min(1)..)
        } else {
            Bytes::new()
        };
        match awaiting {
            Awaiting::Keepalive => return Ok(()),
            Awaiting::Forward { forward, cancel } if success => {
                if cancel {
                    self.active.removed(&forward);
                } else {
                    self.active.added(forward, &data);
                }
            }
            Awaiting::Forward { .. } | Awaiting::Application => {}
        }
        events.push_back(Event::GlobalReply { success, data });
        Ok(())
    }

    /// The application answers the oldest want-reply request from the peer.
    pub(super) fn reply(
        &mut self,
        success: bool,
        data: &[u8],
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        let mut first = true;
        let result = self
            .theirs
            .answer(success, |s| {
                // Only the application's own answer carries its data; the
                // automatic ones queued behind it carry none.
                let data: &[u8] = if first { data } else { &[] };
                first = false;
                send_reply(out, s, data);
            })
            .map_err(|_| ApiMisuse::NoGlobalRequestPending);
        if result.is_ok() {
            self.theirs_port_zero.pop_front();
        }
        result
    }
}

fn send_reply(out: &mut Outbox, success: bool, data: &[u8]) {
    if success {
        out.message(msg::REQUEST_SUCCESS).put_raw(data);
    } else {
        // RFC 4254 section 4: REQUEST_FAILURE carries nothing.
        out.message(msg::REQUEST_FAILURE);
    }
}
