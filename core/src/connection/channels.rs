//! Mutators of the connection protocol (RFC 4254): channels, their data
//! and requests, and global requests.

use std::borrow::Cow;

use crate::error::{ApiMisuse, Error};
#[cfg(doc)]
use crate::event::Event;
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest};
use crate::record::Call;
use crate::wire::Encode;

use super::Connection;

impl Connection {
    fn require_authenticated(&self) -> Result<(), Error> {
        if !self.is_authenticated() {
            return Err(ApiMisuse::WrongState("not authenticated yet").into());
        }
        Ok(())
    }

    /// Opens a `session` channel (RFC 4254 section 6.1). [`Event::ChannelOpened`]
    /// or [`Event::ChannelOpenFailed`] follows.
    pub fn open_session(&mut self) -> Result<ChannelId, Error> {
        self.open_channel("session", &[])
    }

    /// Opens a channel of any type, with its type-specific data encoded by the caller.
    pub fn open_channel(&mut self, kind: &str, extra: &[u8]) -> Result<ChannelId, Error> {
        self.recorded(
            |_| Call::OpenChannel {
                kind: kind.into(),
                extra: extra.into(),
            },
            |c| {
                c.require_authenticated()?;
                c.mutate(|c| Ok(c.channels.open(kind, extra, &mut c.outbox)?))
            },
        )
    }

    /// Opens a `direct-tcpip` channel (RFC 4254 section 7.2).
    pub fn open_direct_tcpip(
        &mut self,
        host: &str,
        port: u32,
        originator: &str,
        originator_port: u32,
    ) -> Result<ChannelId, Error> {
        let mut extra = Vec::new();
        extra.put_str(host);
        extra.put_u32(port);
        extra.put_str(originator);
        extra.put_u32(originator_port);
        self.open_channel("direct-tcpip", &extra)
    }

    /// Confirms a channel from [`Event::ChannelOpenRequest`].
    pub fn accept_channel(&mut self, channel: ChannelId) -> Result<(), Error> {
        self.recorded(
            |_| Call::AcceptChannel { channel },
            |c| c.mutate(|c| Ok(c.channels.accept(channel, &mut c.outbox)?)),
        )
    }

    /// Refuses a channel from [`Event::ChannelOpenRequest`].
    pub fn reject_channel(
        &mut self,
        channel: ChannelId,
        reason: ChannelOpenFailure,
        description: &str,
    ) -> Result<(), Error> {
        self.recorded(
            |_| Call::RejectChannel {
                channel,
                reason,
                description: description.into(),
            },
            |c| {
                c.mutate(|c| {
                    Ok(c.channels
                        .reject(channel, reason, description, &mut c.outbox)?)
                })
            },
        )
    }

    /// Sends a channel request (exec, shell, pty-req, env, signal, ...). With
    /// `want_reply`, an [`Event::ChannelRequestReply`] follows.
    pub fn channel_request(
        &mut self,
        channel: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
    ) -> Result<(), Error> {
        self.recorded(
            |_| Call::ChannelRequest {
                channel,
                request: Cow::Borrowed(request),
                want_reply,
            },
            |c| {
                c.mutate(|c| {
                    Ok(c.channels
                        .request(channel, request, want_reply, &mut c.outbox)?)
                })
            },
        )
    }

    /// Shorthand for an `exec` request with want-reply (RFC 4254 section 6.5).
    pub fn exec(&mut self, channel: ChannelId, command: &[u8]) -> Result<(), Error> {
        self.channel_request(
            channel,
            &ChannelRequest::Exec {
                command: command.to_vec(),
            },
            true,
        )
    }

    /// Answers the oldest want-reply request on `channel` from
    /// [`Event::ChannelRequest`].
    pub fn channel_reply(&mut self, channel: ChannelId, success: bool) -> Result<(), Error> {
        self.recorded(
            |_| Call::ChannelReply { channel, success },
            |c| c.mutate(|c| Ok(c.channels.reply(channel, success, &mut c.outbox)?)),
        )
    }

    /// Sends channel data; returns how many bytes were taken, bounded by the
    /// peer's window, its maximum packet size and the send buffer. When fewer
    /// than offered were taken, [`Event::ChannelWritable`] tells when to try again.
    pub fn send_data(&mut self, channel: ChannelId, data: &[u8]) -> Result<usize, Error> {
        self.send_inner(channel, None, data)
    }

    /// Sends extended data (`code` 1 is stderr, RFC 4254 section 5.2); as
    /// [`Connection::send_data`].
    pub fn send_extended_data(
        &mut self,
        channel: ChannelId,
        code: u32,
        data: &[u8],
    ) -> Result<usize, Error> {
        self.send_inner(channel, Some(code), data)
    }

    fn send_inner(
        &mut self,
        channel: ChannelId,
        ext: Option<u32>,
        data: &[u8],
    ) -> Result<usize, Error> {
        self.recorded(
            |_| Call::SendData {
                channel,
                ext,
                data: data.into(),
            },
            |c| {
                c.mutate(|c| {
                    let budget = c.send_budget();
                    let Connection {
                        channels,
                        outbox,
                        transport,
                        rng,
                        ..
                    } = c;
                    let n = channels.send_each(channel, ext, data, budget, &mut |parts| {
                        if !transport.send_direct(outbox, parts, &mut **rng) {
                            outbox.queue_parts(parts);
                        }
                    })?;
                    if n < data.len() && c.send_budget() == 0 {
                        c.send_budget_exhausted = true;
                    }
                    Ok(n)
                })
            },
        )
    }

    /// Bytes [`Connection::send_data`] would take now on `channel`.
    pub fn send_capacity(&self, channel: ChannelId) -> Result<usize, Error> {
        Ok(self.channels.send_window(channel)?.min(self.send_budget()))
    }

    /// Sends EOF: we will send no more data on `channel` (half-close).
    pub fn send_eof(&mut self, channel: ChannelId) -> Result<(), Error> {
        self.recorded(
            |_| Call::SendEof { channel },
            |c| c.mutate(|c| Ok(c.channels.eof(channel, &mut c.outbox)?)),
        )
    }

    /// Closes `channel`. [`Event::ChannelClosed`] follows when the peer's
    /// CLOSE arrives; data received meanwhile is dropped.
    pub fn close_channel(&mut self, channel: ChannelId) -> Result<(), Error> {
        self.recorded(
            |_| Call::CloseChannel { channel },
            |c| c.mutate(|c| Ok(c.channels.close(channel, &mut c.outbox)?)),
        )
    }

    /// The application has processed `n` bytes of data or extended data
    /// received on `channel`: the receive window reopens accordingly. Data
    /// not consumed holds the peer back, which bounds memory.
    pub fn consume(&mut self, channel: ChannelId, n: usize) -> Result<(), Error> {
        self.recorded(
            |_| Call::Consume {
                channel,
                n: n as u64,
            },
            |c| c.mutate(|c| Ok(c.channels.consume(channel, n, &mut c.outbox)?)),
        )
    }

    /// Sends a global request (RFC 4254 section 4). With `want_reply`, an
    /// [`Event::GlobalReply`] follows.
    pub fn global_request(
        &mut self,
        name: &str,
        data: &[u8],
        want_reply: bool,
    ) -> Result<(), Error> {
        self.recorded(
            |_| Call::GlobalRequest {
                name: name.into(),
                data: data.into(),
                want_reply,
            },
            |c| {
                c.require_authenticated()?;
                c.mutate(|c| {
                    c.channels
                        .global_request(name, data, want_reply, &mut c.outbox);
                    Ok(())
                })
            },
        )
    }

    /// Answers the oldest want-reply [`Event::GlobalRequest`].
    pub fn global_reply(&mut self, success: bool, data: &[u8]) -> Result<(), Error> {
        self.recorded(
            |_| Call::GlobalReply {
                success,
                data: data.into(),
            },
            |c| c.mutate(|c| Ok(c.channels.global_reply(success, data, &mut c.outbox)?)),
        )
    }
}
