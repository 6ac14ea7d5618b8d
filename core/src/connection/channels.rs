//! The typed mutators of the connection protocol (RFC 4254): channels,
//! their data and requests, and global requests. Each builds its
//! [`Command`] for [`Connection::apply`]; the shorthands build the general
//! command.

use std::borrow::Cow;

use crate::command::{Applied, Command};
use crate::error::ApiMisuse;
#[cfg(doc)]
use crate::event::{ChannelEvent, Event};
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest};
use crate::forward::{Forward, ForwardChannel};
use crate::wire::Encode;

use super::Connection;

impl Connection {
    /// Opens a `session` channel (RFC 4254 section 6.1). [`ChannelEvent::Opened`]
    /// or [`ChannelEvent::OpenFailed`] follows.
    pub fn open_session(&mut self) -> Result<ChannelId, ApiMisuse> {
        self.open_channel("session", &[])
    }

    /// Opens a channel of any type, with its type-specific data encoded by the caller.
    pub fn open_channel(&mut self, kind: &str, extra: &[u8]) -> Result<ChannelId, ApiMisuse> {
        let applied = self.apply(Command::OpenChannel {
            kind: kind.into(),
            extra: extra.into(),
        })?;
        // `apply` answers every open with the channel's id.
        applied
            .channel()
            .ok_or(ApiMisuse::InvalidArgument("not a channel open"))
    }

    /// Opens a `direct-tcpip` channel (RFC 4254 section 7.2).
    pub fn open_direct_tcpip(
        &mut self,
        host: &str,
        port: u32,
        originator: &str,
        originator_port: u32,
    ) -> Result<ChannelId, ApiMisuse> {
        let mut extra = Vec::new();
        extra.put_str(host);
        extra.put_u32(port);
        extra.put_str(originator);
        extra.put_u32(originator_port);
        self.open_channel("direct-tcpip", &extra)
    }

    /// Confirms a channel from [`ChannelEvent::OpenRequest`].
    pub fn accept_channel(&mut self, channel: ChannelId) -> Result<(), ApiMisuse> {
        self.apply(Command::AcceptChannel { channel }).map(drop)
    }

    /// Refuses a channel from [`ChannelEvent::OpenRequest`].
    pub fn reject_channel(
        &mut self,
        channel: ChannelId,
        reason: ChannelOpenFailure,
        description: &str,
    ) -> Result<(), ApiMisuse> {
        self.apply(Command::RejectChannel {
            channel,
            reason,
            description: description.into(),
        })
        .map(drop)
    }

    /// Sends a channel request (exec, shell, pty-req, env, signal, ...). With
    /// `want_reply`, an [`ChannelEvent::RequestReply`] follows.
    pub fn channel_request(
        &mut self,
        channel: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
    ) -> Result<(), ApiMisuse> {
        self.apply(Command::ChannelRequest {
            channel,
            request: Cow::Borrowed(request),
            want_reply,
        })
        .map(drop)
    }

    /// Shorthand for an `exec` request with want-reply (RFC 4254 section 6.5).
    pub fn exec(&mut self, channel: ChannelId, command: &[u8]) -> Result<(), ApiMisuse> {
        self.channel_request(
            channel,
            &ChannelRequest::Exec {
                command: command.to_vec(),
            },
            true,
        )
    }

    /// Answers the oldest want-reply request on `channel` from
    /// [`ChannelEvent::Request`].
    pub fn channel_reply(&mut self, channel: ChannelId, success: bool) -> Result<(), ApiMisuse> {
        self.apply(Command::ChannelReply { channel, success })
            .map(drop)
    }

    /// Sends channel data; returns how many bytes were taken, bounded by the
    /// peer's window, its maximum packet size and the send buffer. When fewer
    /// than offered were taken, [`ChannelEvent::Writable`] tells when to try again.
    pub fn send_data(&mut self, channel: ChannelId, data: &[u8]) -> Result<usize, ApiMisuse> {
        self.apply(Command::SendData {
            channel,
            ext: None,
            data: data.into(),
        })
        .map(sent)
    }

    /// Sends extended data (`code` 1 is stderr, RFC 4254 section 5.2); as
    /// [`Connection::send_data`].
    pub fn send_extended_data(
        &mut self,
        channel: ChannelId,
        code: u32,
        data: &[u8],
    ) -> Result<usize, ApiMisuse> {
        self.apply(Command::SendData {
            channel,
            ext: Some(code),
            data: data.into(),
        })
        .map(sent)
    }

    /// Bytes [`Connection::send_data`] would take now on `channel`.
    pub fn send_capacity(&self, channel: ChannelId) -> Result<usize, ApiMisuse> {
        Ok(self.channels.send_window(channel)?.min(self.send_budget()))
    }

    /// Sends EOF: we will send no more data on `channel` (half-close).
    pub fn send_eof(&mut self, channel: ChannelId) -> Result<(), ApiMisuse> {
        self.apply(Command::SendEof { channel }).map(drop)
    }

    /// Closes `channel`. [`ChannelEvent::Closed`] follows when the peer's
    /// CLOSE arrives; data received meanwhile is dropped.
    pub fn close_channel(&mut self, channel: ChannelId) -> Result<(), ApiMisuse> {
        self.apply(Command::CloseChannel { channel }).map(drop)
    }

    /// The application has processed `n` bytes of data or extended data
    /// received on `channel`: the receive window reopens accordingly. Data
    /// not consumed holds the peer back, which bounds memory.
    pub fn consume(&mut self, channel: ChannelId, n: usize) -> Result<(), ApiMisuse> {
        self.apply(Command::Consume { channel, n }).map(drop)
    }

    /// Sends a global request (RFC 4254 section 4). With `want_reply`, an
    /// [`Event::GlobalReply`] follows.
    pub fn global_request(
        &mut self,
        name: &str,
        data: &[u8],
        want_reply: bool,
    ) -> Result<(), ApiMisuse> {
        self.apply(Command::GlobalRequest {
            name: name.into(),
            data: data.into(),
            want_reply,
        })
        .map(drop)
    }

    /// Asks the peer to listen for us (RFC 4254 section 7.1, OpenSSH
    /// PROTOCOL section 2.4; `ssh -R`): a want-reply global request whose
    /// [`Event::GlobalReply`] carries the allocated port when `port` was 0.
    /// Once the peer agrees, the `forwarded-*` channels it opens for this
    /// forward arrive as [`ChannelEvent::OpenRequest`]; any other is
    /// refused by the connection itself.
    pub fn request_forward(&mut self, forward: &Forward) -> Result<(), ApiMisuse> {
        self.global_request(forward.request_name(false), &forward.encode(), true)
    }

    /// Cancels a forward (`cancel-tcpip-forward`; name a port-0 forward by
    /// its allocated port, as ssh does). An [`Event::GlobalReply`] follows.
    pub fn cancel_forward(&mut self, forward: &Forward) -> Result<(), ApiMisuse> {
        self.global_request(forward.request_name(true), &forward.encode(), true)
    }

    /// Opens a channel for one forwarded connection: `direct-tcpip` or
    /// `direct-streamlocal@openssh.com` from a client, `forwarded-*` from a
    /// server for a forward the client asked for.
    pub fn open_forward_channel(
        &mut self,
        channel: &ForwardChannel,
    ) -> Result<ChannelId, ApiMisuse> {
        self.open_channel(channel.kind(), &channel.encode())
    }

    /// Answers the oldest want-reply [`Event::GlobalRequest`], a forwarding
    /// request: on success for a `tcpip-forward` on port 0 the reply
    /// carries `bound_port`, the port allocated (RFC 4254 section 7.1);
    /// other replies carry nothing and ignore it.
    pub fn reply_forward(&mut self, success: bool, bound_port: u32) -> Result<(), ApiMisuse> {
        let data = if success && self.channels.global_pending_wants_port() {
            bound_port.to_be_bytes().to_vec()
        } else {
            Vec::new()
        };
        self.global_reply(success, &data)
    }

    /// Answers the oldest want-reply [`Event::GlobalRequest`].
    pub fn global_reply(&mut self, success: bool, data: &[u8]) -> Result<(), ApiMisuse> {
        self.apply(Command::GlobalReply {
            success,
            data: data.into(),
        })
        .map(drop)
    }
}

/// The bytes a `SendData` command took (`apply` answers every one with
/// [`Applied::Sent`]; anything else took nothing).
fn sent(applied: Applied) -> usize {
    applied.sent().unwrap_or(0)
}
