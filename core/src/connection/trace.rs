//! What a connection did, as `tracing` events: one central point, the
//! events handed to the application ([`Connection::poll_event`] calls
//! [`log_event`]), plus the few things that are not events (the peer's
//! version, a DISCONNECT we send, keepalives). Everything happens inside
//! the connection's span (`ssh`, with the role and, once the caller
//! records it, the peer's address); channel messages inside a `channel`
//! span with the id.
//!
//! The messages are worded as OpenSSH's `ssh -v` / sshd words them, so an
//! OpenSSH user recognises them. Never logged: passwords, prompt answers,
//! passphrases, signatures, keys' private halves, session keys or the
//! exchange hash; of a public key only its type and fingerprint.
//!
//! Levels: `info` for what sshd logs by default (logins, disconnects),
//! `debug` for what `ssh -v` shows (debug1), `trace` for `-vv` (debug2).

use tracing::{debug, debug_span, info, trace};

use crate::error::Error;
use crate::event::{AuthAttempt, ChannelEvent, ChannelId, Event};
use crate::keys::PublicKey;
use crate::transport::Side;

#[cfg(doc)]
use super::Connection;

/// The connection's span: its role now, and a `peer` field its caller
/// fills in (`Connection::span`).
pub(super) fn connection_span(side: Side) -> tracing::Span {
    let role = match side {
        Side::Client => "client",
        Side::Server => "server",
    };
    tracing::info_span!("ssh", role, peer = tracing::field::Empty)
}

/// `ssh-ed25519 SHA256:...`, what OpenSSH shows of a key.
fn describe_key(key: &PublicKey) -> String {
    format!(
        "{} {}",
        crate::known_hosts::key_type_label(key),
        key.fingerprint()
    )
}

/// The method name of an attempt (no secret in it).
fn method(attempt: &AuthAttempt) -> &'static str {
    match attempt {
        AuthAttempt::None => "none",
        AuthAttempt::Password { .. } => "password",
        AuthAttempt::PublicKey { .. } => "publickey",
        AuthAttempt::KeyboardInteractive { .. } => "keyboard-interactive",
    }
}

/// Logs one event about to be handed to the application.
pub(super) fn log_event(side: Side, event: &Event) {
    match event {
        Event::HostKey { key } => debug!("Server host key: {}", describe_key(key)),
        Event::KeyExchangeDone {
            algorithms: a,
            rekey,
        } => {
            if *rekey {
                debug!("rekey completed");
            }
            debug!("kex: algorithm: {}", a.kex);
            debug!("kex: host key algorithm: {}", a.host_key);
            let mac = |m: &str| {
                if m.is_empty() {
                    "<implicit>".to_string()
                } else {
                    m.to_string()
                }
            };
            debug!(
                "kex: server->client cipher: {} MAC: {} compression: {}",
                a.cipher_s2c,
                mac(&a.mac_s2c),
                a.compression_s2c
            );
            debug!(
                "kex: client->server cipher: {} MAC: {} compression: {}",
                a.cipher_c2s,
                mac(&a.mac_c2s),
                a.compression_c2s
            );
            if a.strict_kex {
                debug!("kex: strict key exchange (kex-strict-*-v00@openssh.com) in force");
            }
        }
        Event::Debug { message } => debug!("Remote: {message}"),
        Event::UserauthReady => debug!("SSH2_MSG_SERVICE_ACCEPT received"),
        Event::AuthBanner { .. } => debug!("SSH2_MSG_USERAUTH_BANNER received"),
        Event::AuthFailure {
            methods,
            partial_success,
        } => {
            if *partial_success {
                debug!("Authenticated using a method with partial success.");
            }
            debug!("Authentications that can continue: {}", methods.join(","));
        }
        Event::AuthSignatureNeeded { key, algorithm, .. } => {
            debug!(
                "Server accepts key: {} (signing with {algorithm})",
                describe_key(key)
            );
        }
        Event::AuthPasswordChange { .. } => debug!("Password change requested by the server"),
        Event::AuthInfoRequest { prompts, .. } => {
            debug!("keyboard-interactive: {} prompts", prompts.len());
        }
        Event::AuthSuccess => debug!("Authentication succeeded."),
        Event::AuthRequest { user, attempt, .. } => {
            let what = match attempt {
                AuthAttempt::PublicKey { key, signed } => format!(
                    " {} ({})",
                    describe_key(key),
                    if *signed { "signed" } else { "query" }
                ),
                AuthAttempt::KeyboardInteractive { responses, .. } if !responses.is_empty() => {
                    format!(" ({} responses)", responses.len())
                }
                _ => String::new(),
            };
            debug!(
                "userauth-request for user {user} method {}{what}",
                method(attempt)
            );
        }
        Event::Authenticated { user } => info!("Authentication succeeded for user {user}"),
        Event::Channel { id, event } => log_channel(*id, event),
        Event::GlobalRequest {
            name, want_reply, ..
        } => debug!("client_input_global_request: rtype {name} want_reply {want_reply}"),
        Event::GlobalReply { success, .. } => {
            debug!(
                "global request {}",
                if *success { "succeeded" } else { "failed" }
            );
        }
        Event::Disconnected { error } => log_end(side, error),
    }
}

fn log_channel(id: ChannelId, event: &ChannelEvent) {
    let span = debug_span!("channel", id = id.0);
    let _entered = span.enter();
    let n = id.0;
    match event {
        ChannelEvent::OpenRequest { kind, .. } => {
            debug!("channel {n}: new {kind} (open requested)");
        }
        ChannelEvent::Opened => debug!("channel {n}: open confirmed"),
        ChannelEvent::OpenFailed {
            reason,
            description,
        } => debug!("channel {n}: open failed: {reason:?}: {description}"),
        ChannelEvent::Request {
            request,
            want_reply,
        } => debug!(
            "channel {n}: rcvd request {} reply {}",
            request.name(),
            u8::from(*want_reply)
        ),
        ChannelEvent::RequestReply { success } => debug!(
            "channel {n}: request {}",
            if *success { "succeeded" } else { "failed" }
        ),
        ChannelEvent::Data { data } => trace!("channel {n}: rcvd {} bytes", data.len()),
        ChannelEvent::ExtendedData { code, data } => {
            trace!("channel {n}: rcvd ext data {code}: {} bytes", data.len());
        }
        ChannelEvent::Eof => debug!("channel {n}: rcvd eof"),
        ChannelEvent::ExitStatus { code } => debug!("channel {n}: exit-status {code}"),
        ChannelEvent::ExitSignal { signal, .. } => {
            debug!("channel {n}: exit-signal {signal}");
        }
        ChannelEvent::Closed => debug!("channel {n}: free"),
        ChannelEvent::Writable => trace!("channel {n}: writable"),
    }
}

/// The end of the connection, received or sent, with its reason.
fn log_end(side: Side, error: &Error) {
    let from = match side {
        Side::Client => "server",
        Side::Server => "client",
    };
    match error {
        Error::PeerDisconnected {
            reason,
            description,
        } => info!(
            "Received disconnect from {from}: {}: {description}",
            reason.code()
        ),
        Error::ConnectionLost(why) => info!("Connection closed by {from}: {why}"),
        other => info!(
            "Disconnecting: {other} (reason {} sent)",
            other.disconnect_reason().code()
        ),
    }
}
