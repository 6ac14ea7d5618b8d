//! The events of one channel ([`Event::Channel`]), handled once for every
//! adapter: what the application's channel handles wait for is queued in
//! the channel's driver state, and its wakers woken. The channel's phase,
//! EOF and CLOSE are the core's ([`conch_core::Connection::channel`]); the
//! driver keeps only what the core does not: received data not yet read,
//! wakers, who holds the channel, and a server channel's requests.

use bytes::Bytes;
#[cfg(doc)]
use conch_core::Event;
use conch_core::{
    ChannelEvent, ChannelId, ChannelOpenFailure, ChannelRequest, Connection, ForwardChannel,
};

use super::{ChannelState, Holder, ServerState, Shared};
use crate::channel::ExitStatus;
use crate::server::{PtyRequest, SessionCommand};
use crate::wakers::WakerSet;

/// `env` requests kept per server channel (further ones are refused).
const MAX_ENV: usize = 256;
/// Requests received on a started server channel that the application has
/// not yet taken (oldest dropped).
const MAX_PENDING_REQUESTS: usize = 64;

impl Shared {
    fn on_channel_open_request(&mut self, channel: ChannelId, kind: &str, data: &[u8]) {
        let forward = ForwardChannel::decode(kind, data).and_then(|r| r.ok());
        let Some(server) = &self.server else {
            // Client role: the core admits only `forwarded-*` channels of
            // forwards the server agreed to, and agent channels after an
            // `auth-agent-req@openssh.com`; the application decides them.
            match forward {
                Some(
                    f @ (ForwardChannel::ForwardedTcpip { .. }
                    | ForwardChannel::ForwardedStreamlocal { .. }
                    | ForwardChannel::AuthAgent),
                ) => self.queue_open(channel, f),
                _ => {
                    let _ = self.conn.reject_channel(
                        channel,
                        ChannelOpenFailure::AdministrativelyProhibited,
                        "channel type not supported by this client",
                    );
                }
            }
            return;
        };
        let user = server.user.clone().unwrap_or_default();
        if let Some(
            f @ (ForwardChannel::DirectTcpip { .. } | ForwardChannel::DirectStreamlocal { .. }),
        ) = forward
        {
            // RFC 4254 section 7.2: the handler decides; the application
            // connects, then confirms (`ServerSession::next_forward_request`).
            match server.handler.direct_forward(&user, &f) {
                Ok(()) => self.queue_open(channel, f),
                Err((reason, text)) => {
                    let _ = self.conn.reject_channel(channel, reason, &text);
                }
            }
            return;
        }
        match server.handler.channel_open(&user, kind, data) {
            Ok(()) => {
                if self.conn.accept_channel(channel).is_ok() {
                    self.add_channel(channel, Holder::NotYet);
                }
            }
            Err((reason, text)) => {
                let _ = self.conn.reject_channel(channel, reason, &text);
            }
        }
    }

    /// An event on one channel: one lookup of the driver's state for it,
    /// whatever the event.
    pub(super) fn on_channel_event(&mut self, id: ChannelId, event: ChannelEvent) {
        if let ChannelEvent::OpenRequest { kind, data } = event {
            self.on_channel_open_request(id, &kind, &data);
            return;
        }
        let found = self
            .ids
            .get(&id)
            .copied()
            .and_then(|key| Some((key, self.channels.get_mut(&key)?)));
        let Some((key, st)) = found else {
            // A channel no handle refers to: refuse what it asks and give
            // back the window of data nobody will read.
            match event {
                ChannelEvent::Request {
                    want_reply: true, ..
                } => {
                    let _ = self.conn.channel_reply(id, false);
                }
                ChannelEvent::Data { data } | ChannelEvent::ExtendedData { data, .. }
                    if !data.is_empty() =>
                {
                    let _ = self.conn.consume(id, data.len());
                }
                _ => {}
            }
            return;
        };
        let wake = match event {
            ChannelEvent::Opened => {
                if st.holder == Holder::Dropped {
                    let _ = self.conn.close_channel(id);
                }
                true
            }
            ChannelEvent::OpenFailed {
                reason,
                description,
            } => {
                st.open_failure = Some((reason, description));
                st.wakers.wake_all();
                let dropped = st.holder == Holder::Dropped;
                self.ids.remove(&id);
                if dropped {
                    self.channels.remove(&key);
                }
                false
            }
            ChannelEvent::Request {
                request,
                want_reply,
            } => {
                let ok = match &mut self.server {
                    Some(server) => {
                        server_request(server, &mut self.session_wakers, key, st, request)
                    }
                    // Client role: the server has nothing to ask of us that
                    // we serve (exit-status/-signal arrive as their own events).
                    None => false,
                };
                if want_reply {
                    let _ = self.conn.channel_reply(id, ok);
                }
                false
            }
            ChannelEvent::RequestReply { success } => {
                st.replies.answer(success);
                true
            }
            ChannelEvent::Data { data } => on_data(&mut self.conn, st, None, data),
            ChannelEvent::ExtendedData { code, data } => {
                on_data(&mut self.conn, st, Some(code), data)
            }
            ChannelEvent::ExitStatus { code } => {
                st.exit = Some(ExitStatus::Code(code));
                true
            }
            ChannelEvent::ExitSignal {
                signal,
                core_dumped,
                message,
            } => {
                st.exit = Some(ExitStatus::Signal {
                    name: signal,
                    core_dumped,
                    message,
                });
                true
            }
            ChannelEvent::Closed => {
                st.wakers.wake_all();
                let unreferenced = st.holder == Holder::Dropped
                    || (st.holder == Holder::NotYet && !st.server.started);
                self.ids.remove(&id);
                if unreferenced {
                    self.channels.remove(&key);
                }
                false
            }
            // EOF and room to write change what the core reports; the
            // handles waiting on them look again.
            ChannelEvent::Eof | ChannelEvent::Writable => true,
            // Handled above; events added to the core later are not needed
            // to drive a channel.
            _ => false,
        };
        if wake {
            if let Some(st) = self.channels.get_mut(&key) {
                st.wakers.wake_all();
            }
        }
    }
}

/// Data or extended data for a channel; returns whether it was queued for a
/// reader (who is then to be woken).
fn on_data(conn: &mut Connection, st: &mut ChannelState, code: Option<u32>, data: Bytes) -> bool {
    let len = data.len();
    let keep = st.holder != Holder::Dropped
        && match code {
            None => {
                st.stdout.push(data);
                true
            }
            // RFC 4254 section 5.2: code 1 is SSH_EXTENDED_DATA_STDERR.
            Some(1) if !st.stderr_discard => {
                st.stderr.push(data);
                true
            }
            Some(_) => false,
        };
    if !keep && len > 0 {
        // Nobody will read it: give the window back at once so the peer
        // is not held up by data that is thrown away.
        let _ = conn.consume(st.id, len);
    }
    keep
}

/// Server: a request from the client on channel `key`; returns the answer
/// for want-reply.
fn server_request(
    server: &mut ServerState,
    session_wakers: &mut WakerSet,
    key: u64,
    st: &mut ChannelState,
    request: ChannelRequest,
) -> bool {
    let user = server.user.clone().unwrap_or_default();
    let starts = matches!(
        request,
        ChannelRequest::Exec { .. } | ChannelRequest::Shell | ChannelRequest::Subsystem { .. }
    );
    if starts && st.server.started {
        // RFC 4254 section 6.5: only one of these per channel.
        return false;
    }
    if !server.handler.channel_request(&user, &request) {
        return false;
    }
    if !st.server.started {
        match request {
            ChannelRequest::Exec { command } => {
                st.server.command = Some(SessionCommand::Exec(command))
            }
            ChannelRequest::Shell => st.server.command = Some(SessionCommand::Shell),
            ChannelRequest::Subsystem { name } => {
                st.server.command = Some(SessionCommand::Subsystem(name))
            }
            ChannelRequest::PtyReq { term, size, modes } => {
                st.server.pty = Some(PtyRequest { term, size, modes });
                return true;
            }
            ChannelRequest::AuthAgentReq => {
                st.server.agent_forwarding = true;
                return true;
            }
            ChannelRequest::Env { name, value } => {
                if st.server.env.len() >= MAX_ENV {
                    return false;
                }
                st.server.env.push((name, value));
                return true;
            }
            _ => return true,
        }
        st.server.started = true;
        server.incoming.push_back(key);
        session_wakers.wake_all();
        return true;
    }
    if st.requests.len() == MAX_PENDING_REQUESTS {
        st.requests.pop_front();
    }
    st.requests.push_back(request);
    st.wakers.wake_all();
    true
}
