//! [`Connection::apply`]: the one path every application call (every
//! [`Command`]) takes: recording, the role and state checks, dispatch.

use crate::auth::{AuthContext, AuthDecision, ClientAuth};
use crate::command::{Applied, Command};
use crate::error::{ApiMisuse, Error};
use crate::outbox::Outbox;
use crate::record::Outcome;
use crate::transport::Side;

use super::{Auth, Connection};

/// The role's name, as [`ApiMisuse::WrongRole`] shows it.
fn role_name(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

/// Whether `command` answers something the peer asked for (a channel
/// open, a want-reply request, an authentication attempt). Such answers
/// count against the output the peer may provoke and leave unread
/// ([`crate::config::UNREAD_ANSWERS_LIMIT`]), like the ones the core gives
/// itself: a client that sends requests an application answers and never
/// reads the answers would otherwise grow the server's transmit buffer
/// without bound, the send buffer limit covering only `send_data`.
fn answers_peer(command: &Command<'_>) -> bool {
    matches!(
        command,
        Command::AcceptChannel { .. }
            | Command::RejectChannel { .. }
            | Command::ChannelReply { .. }
            | Command::GlobalReply { .. }
            | Command::AuthDecision { .. }
    )
}

impl Connection {
    /// Applies an application call: every mutator of the connection is a
    /// [`Command`], and every one goes through here (the typed methods,
    /// such as [`Connection::send_data`], build the command and call this).
    ///
    /// When recording, the command and what it returned are appended to
    /// the transcript; a replay applies it again the same way.
    ///
    /// Errors are [`ApiMisuse`] only, and never end the connection: the
    /// command is for the other role ([`ApiMisuse::WrongRole`]), the
    /// connection has ended ([`ApiMisuse::Closed`]; `Disconnect` alone is
    /// accepted then, and does nothing), or the command does not fit the
    /// state it finds. A fatal error the command runs into (a packet that
    /// waited for the host key decision turns out to be malformed, say) is
    /// reported as every fatal error is, once, by
    /// [`crate::Event::Disconnected`]. So is a peer that leaves the
    /// answers to its requests unread: an answer (accepting or refusing a
    /// channel, a reply to a request, an authentication decision) that
    /// brings what it left unread past its limit ends the connection with
    /// [`crate::PeerMisbehaved::UnreadAnswers`], though the command itself
    /// succeeded. Drain the output afterwards, as after any call.
    pub fn apply(&mut self, command: Command<'_>) -> Result<Applied, ApiMisuse> {
        let Some(recorder) = self.recorder.as_deref_mut() else {
            return self.execute(command);
        };
        // The command is consumed by its execution: its record is written
        // first, straight from the borrowed arguments, then its outcome.
        recorder.begin_command(&command);
        let disconnect = matches!(command, Command::Disconnect { .. });
        let result = self.execute(command);
        if let Some(recorder) = &mut self.recorder {
            recorder.finish(Outcome::of_command(disconnect, &result));
        }
        result
    }

    /// The checks every command passes, then the command, then the work
    /// after any progress (handing queued messages on).
    fn execute(&mut self, command: Command<'_>) -> Result<Applied, ApiMisuse> {
        let span = self.span.clone();
        let _entered = span.enter();
        tracing::trace!("command {}", command.name());
        let next_method = match &command {
            Command::AuthNone { user } => Some(("none", user)),
            Command::AuthPassword { user, .. } => Some(("password", user)),
            Command::AuthPublickey { user, .. } => Some(("publickey", user)),
            Command::AuthKeyboardInteractive { user, .. } => Some(("keyboard-interactive", user)),
            _ => None,
        };
        if let Some((method, user)) = next_method {
            tracing::debug!("Next authentication method: {method} (user {user})");
        }
        if let Some(role) = command.role() {
            if role != self.side {
                return Err(ApiMisuse::WrongRole(command.name(), role_name(role)));
            }
        }
        if let Command::Disconnect { description } = &command {
            self.end_by_application(description);
            return Ok(Applied::Done);
        }
        if self.error.is_some() {
            return Err(ApiMisuse::Closed);
        }
        let answers_peer = answers_peer(&command);
        let queued_before = self.queued_output();
        let result = self.dispatch_command(command);
        self.after_progress();
        if answers_peer {
            self.count_provoked_output(queued_before);
        }
        result
    }

    /// Runs one command on an open connection of the right role.
    fn dispatch_command(&mut self, command: Command<'_>) -> Result<Applied, ApiMisuse> {
        let name = command.name();
        match command {
            // Handled by `execute`, whatever the connection's state.
            Command::Disconnect { .. } => {}
            Command::Rekey => self.transport.start_rekey(self.now, &mut *self.rng)?,
            Command::AcceptHostKey => {
                self.transport.accept_host_key(self.now, &mut *self.rng)?;
                // Packets that arrived while we waited can be processed now.
                self.process_input();
            }
            Command::RejectHostKey => {
                self.fail(Error::HostKeyRejected);
            }
            Command::AuthNone { user } => {
                self.client_auth_step(name, |a, _, out| a.none(&user, out))?
            }
            Command::AuthPassword { user, password } => {
                self.client_auth_step(name, |a, _, out| a.password(&user, &password, out))?
            }
            Command::AuthChangePassword { old, new } => {
                self.client_auth_step(name, |a, _, out| a.change_password(&old, &new, out))?
            }
            Command::AuthPublickey { user, key } => {
                self.client_auth_step(name, |a, ctx, out| a.publickey(&user, &key, ctx, out))?
            }
            Command::AuthSignature { blob } => {
                self.client_auth_step(name, |a, _, out| a.signature(&blob, out))?
            }
            Command::AuthKeyboardInteractive { user, submethods } => self
                .client_auth_step(name, |a, _, out| {
                    a.keyboard_interactive(&user, &submethods, out)
                })?,
            Command::AuthInfoResponse { responses } => {
                self.client_auth_step(name, |a, _, out| a.info_response(&responses, out))?
            }
            Command::AuthDecision { decision } => self.decide_auth(name, decision.into_owned())?,
            Command::OpenChannel { kind, extra } => {
                self.require_authenticated()?;
                let id = self.channels.open(&kind, &extra, &mut self.outbox)?;
                return Ok(Applied::Opened(id));
            }
            Command::AcceptChannel { channel } => {
                self.channels.accept(channel, &mut self.outbox)?
            }
            Command::RejectChannel {
                channel,
                reason,
                description,
            } => self
                .channels
                .reject(channel, reason, &description, &mut self.outbox)?,
            Command::ChannelRequest {
                channel,
                request,
                want_reply,
            } => self
                .channels
                .request(channel, &request, want_reply, &mut self.outbox)?,
            Command::ChannelReply { channel, success } => {
                self.channels.reply(channel, success, &mut self.outbox)?
            }
            Command::SendData { channel, ext, data } => {
                return Ok(Applied::Sent(self.send_now(channel, ext, &data)?));
            }
            Command::SendEof { channel } => self.channels.eof(channel, &mut self.outbox)?,
            Command::CloseChannel { channel } => self.channels.close(channel, &mut self.outbox)?,
            Command::Consume { channel, n } => {
                self.channels.consume(channel, n, &mut self.outbox)?
            }
            Command::GlobalRequest {
                name,
                data,
                want_reply,
            } => {
                self.require_authenticated()?;
                self.channels
                    .global_request(&name, &data, want_reply, &mut self.outbox);
            }
            Command::GlobalReply { success, data } => {
                self.channels
                    .global_reply(success, &data, &mut self.outbox)?
            }
        }
        Ok(Applied::Done)
    }

    /// The connection protocol starts only after authentication (RFC 4252
    /// section 5).
    fn require_authenticated(&self) -> Result<(), ApiMisuse> {
        if !self.is_authenticated() {
            return Err(ApiMisuse::NotAuthenticated);
        }
        Ok(())
    }

    /// What every client authentication command does: let `step` queue
    /// its request with the session's context (what a public key signs,
    /// RFC 4252 section 7).
    fn client_auth_step(
        &mut self,
        name: &'static str,
        step: impl FnOnce(&mut ClientAuth, AuthContext<'_>, &mut Outbox) -> Result<(), ApiMisuse>,
    ) -> Result<(), ApiMisuse> {
        let ctx = AuthContext {
            session_id: self.transport.session_id().unwrap_or(&[]),
            server_sig_algs: self.transport.server_sig_algs(),
        };
        match &mut self.auth {
            Auth::Client(a) => {
                step(a, ctx, &mut self.outbox)?;
                a.request_queued();
                Ok(())
            }
            Auth::Server(_) => Err(ApiMisuse::WrongRole(name, "client")),
        }
    }

    /// Server: the application's decision on the pending request. A
    /// decision that does not fit is the application's mistake; an error
    /// of the peer's found while answering (the requests it queued
    /// meanwhile) ends the connection.
    fn decide_auth(&mut self, name: &'static str, decision: AuthDecision) -> Result<(), ApiMisuse> {
        let was_authenticated = self.is_authenticated();
        let Auth::Server(a) = &mut self.auth else {
            return Err(ApiMisuse::WrongRole(name, "server"));
        };
        let result = match a.decide(decision, &mut self.outbox, &mut self.events) {
            Err(Error::ApiMisuse(e)) => Err(e),
            Err(e) => {
                self.fail(e);
                Ok(())
            }
            Ok(()) => Ok(()),
        };
        if !was_authenticated && self.is_authenticated() {
            self.on_authenticated();
        }
        result
    }

    /// Sends (extended) data as far as windows, packet size and send buffer
    /// allow; how many bytes were taken.
    fn send_now(
        &mut self,
        channel: crate::event::ChannelId,
        ext: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ApiMisuse> {
        let budget = self.send_budget();
        let Connection {
            channels,
            outbox,
            transport,
            rng,
            ..
        } = self;
        let n = channels.send_each(channel, ext, data, budget, &mut |parts| {
            if !transport.send_direct(outbox, parts, &mut **rng) {
                outbox.queue_parts(parts);
            }
        })?;
        if n < data.len() && self.send_budget() == 0 {
            self.send_budget_exhausted = true;
        }
        Ok(n)
    }

    /// `Disconnect`: sends DISCONNECT (reason `by application`) after
    /// whatever is queued, then [`crate::Event::Disconnected`]; nothing if
    /// the connection has already ended.
    fn end_by_application(&mut self, description: &str) {
        if self.error.is_none() {
            self.flush();
            self.fail(Error::Closed(description.to_string()));
        }
    }
}
