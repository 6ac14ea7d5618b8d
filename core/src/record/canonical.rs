//! The canonical encoding of an [`Event`], whose SHA-256 a transcript
//! records for every event polled.
//!
//! A tag per event kind, then every field in declaration order, with the
//! transcript's primitives (varints, length-prefixed strings). Public keys
//! are their SSH blob; an [`Error`] is its disconnect reason code and its
//! text. Every match here is exhaustive, so a new event or field does not
//! compile until it has an encoding (and the format version is bumped if
//! the encoding of existing events changes).

use sha2::{Digest as _, Sha256};

use crate::error::Error;
use crate::event::{AuthAttempt, ChannelEvent, ChannelId, Event, NegotiatedAlgorithms};

use super::args::{put_channel_request, put_prompts};
use super::call::Digest;
use super::codec::Put;

/// The SHA-256 of `event`'s canonical encoding.
pub fn event_digest(event: &Event) -> Digest {
    let mut buf = Vec::new();
    encode_event(event, &mut buf);
    Sha256::digest(&buf).into()
}

/// The SHA-256 of `bytes`.
pub(crate) fn bytes_digest(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// Appends `event`'s canonical encoding to `out`.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) {
    match event {
        Event::HostKey { key } => {
            out.byte(1);
            out.bytes(key.blob());
        }
        Event::KeyExchangeDone { algorithms, rekey } => {
            out.byte(2);
            put_algorithms(out, algorithms);
            out.flag(*rekey);
        }
        Event::Debug { message } => {
            out.byte(3);
            out.text(message);
        }
        Event::UserauthReady => out.byte(4),
        Event::AuthBanner { message } => {
            out.byte(5);
            out.text(message);
        }
        Event::AuthFailure {
            methods,
            partial_success,
        } => {
            out.byte(6);
            out.texts(methods);
            out.flag(*partial_success);
        }
        Event::AuthSignatureNeeded {
            key,
            algorithm,
            data,
        } => {
            out.byte(7);
            out.bytes(key.blob());
            out.text(algorithm);
            out.bytes(data);
        }
        Event::AuthPasswordChange { prompt } => {
            out.byte(8);
            out.text(prompt);
        }
        Event::AuthInfoRequest {
            name,
            instruction,
            prompts,
        } => {
            out.byte(9);
            out.text(name);
            out.text(instruction);
            put_prompts(out, prompts);
        }
        Event::AuthSuccess => out.byte(10),
        Event::AuthRequest {
            user,
            service,
            attempt,
        } => {
            out.byte(11);
            out.text(user);
            out.text(service);
            put_attempt(out, attempt);
        }
        Event::Authenticated { user } => {
            out.byte(12);
            out.text(user);
        }
        Event::Channel { id, event } => encode_channel_event(*id, event, out),
        Event::GlobalRequest {
            name,
            data,
            want_reply,
        } => {
            out.byte(25);
            out.text(name);
            out.bytes(data);
            out.flag(*want_reply);
        }
        Event::GlobalReply { success, data } => {
            out.byte(26);
            out.flag(*success);
            out.bytes(data);
        }
        Event::Disconnected { error } => {
            out.byte(27);
            put_error(out, error);
        }
    }
}

/// A channel event keeps the flat encoding events had before they were
/// nested under [`Event::Channel`] (its tag, the channel number, then its
/// fields), so digests in transcripts recorded earlier still match.
fn encode_channel_event(id: ChannelId, event: &ChannelEvent, out: &mut Vec<u8>) {
    let tag = match event {
        ChannelEvent::OpenRequest { .. } => 13,
        ChannelEvent::Opened => 14,
        ChannelEvent::OpenFailed { .. } => 15,
        ChannelEvent::Request { .. } => 16,
        ChannelEvent::RequestReply { .. } => 17,
        ChannelEvent::Data { .. } => 18,
        ChannelEvent::ExtendedData { .. } => 19,
        ChannelEvent::Eof => 20,
        ChannelEvent::ExitStatus { .. } => 21,
        ChannelEvent::ExitSignal { .. } => 22,
        ChannelEvent::Closed => 23,
        ChannelEvent::Writable => 24,
    };
    out.byte(tag);
    out.uvar(id.0.into());
    match event {
        ChannelEvent::OpenRequest { kind, data } => {
            out.text(kind);
            out.bytes(data);
        }
        ChannelEvent::OpenFailed {
            reason,
            description,
        } => {
            out.uvar(reason.code().into());
            out.text(description);
        }
        ChannelEvent::Request {
            request,
            want_reply,
        } => {
            put_channel_request(out, request);
            out.flag(*want_reply);
        }
        ChannelEvent::RequestReply { success } => out.flag(*success),
        ChannelEvent::Data { data } => out.bytes(data),
        ChannelEvent::ExtendedData { code, data } => {
            out.uvar((*code).into());
            out.bytes(data);
        }
        ChannelEvent::ExitStatus { code } => out.uvar((*code).into()),
        ChannelEvent::ExitSignal {
            signal,
            core_dumped,
            message,
        } => {
            out.text(signal);
            out.flag(*core_dumped);
            out.text(message);
        }
        ChannelEvent::Opened
        | ChannelEvent::Eof
        | ChannelEvent::Closed
        | ChannelEvent::Writable => {}
    }
}

fn put_algorithms(out: &mut Vec<u8>, a: &NegotiatedAlgorithms) {
    let NegotiatedAlgorithms {
        kex,
        host_key,
        cipher_c2s,
        cipher_s2c,
        mac_c2s,
        mac_s2c,
        compression_c2s,
        compression_s2c,
        strict_kex,
    } = a;
    for name in [kex, host_key, cipher_c2s, cipher_s2c, mac_c2s, mac_s2c] {
        out.text(name);
    }
    out.flag(*strict_kex);
    // Written only when compression is on, so the digests of transcripts
    // recorded before compression existed (always none) stay the same.
    let on = |c: &str| !c.is_empty() && c != "none";
    if on(compression_c2s) || on(compression_s2c) {
        out.text(compression_c2s);
        out.text(compression_s2c);
    }
}

fn put_attempt(out: &mut Vec<u8>, attempt: &AuthAttempt) {
    match attempt {
        AuthAttempt::None => out.byte(0),
        AuthAttempt::Password {
            password,
            new_password,
        } => {
            out.byte(1);
            out.text(password);
            out.opt_text(new_password.as_deref());
        }
        AuthAttempt::PublicKey { key, signed } => {
            out.byte(2);
            out.bytes(key.blob());
            out.flag(*signed);
        }
        AuthAttempt::KeyboardInteractive {
            submethods,
            responses,
        } => {
            out.byte(3);
            out.text(submethods);
            out.texts(responses);
        }
    }
}

/// An error is what the application sees of it: the reason code our
/// DISCONNECT carries (or the peer's) and the text.
pub(crate) fn put_error(out: &mut Vec<u8>, error: &Error) {
    out.uvar(error.disconnect_reason().code().into());
    out.text(&error.to_string());
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::event::ChannelOpenFailure;

    fn encoded(id: u32, event: ChannelEvent) -> Vec<u8> {
        let mut out = Vec::new();
        encode_event(
            &Event::Channel {
                id: ChannelId(id),
                event,
            },
            &mut out,
        );
        out
    }

    /// Channel events encode as they did before they were nested (tag,
    /// channel number, fields), which the committed transcripts' digests
    /// depend on.
    #[test]
    fn channel_events_keep_their_flat_encoding() {
        assert_eq!(
            encoded(
                5,
                ChannelEvent::OpenRequest {
                    kind: "session".into(),
                    data: Bytes::from_static(b"x"),
                }
            ),
            b"\x0d\x05\x07session\x01x"
        );
        assert_eq!(encoded(300, ChannelEvent::Opened), [14, 0xac, 0x02]);
        assert_eq!(
            encoded(
                1,
                ChannelEvent::OpenFailed {
                    reason: ChannelOpenFailure::ConnectFailed,
                    description: "no".into(),
                }
            ),
            b"\x0f\x01\x02\x02no"
        );
        assert_eq!(
            encoded(2, ChannelEvent::RequestReply { success: true }),
            [17, 2, 1]
        );
        assert_eq!(
            encoded(
                2,
                ChannelEvent::Data {
                    data: Bytes::from_static(b"hi"),
                }
            ),
            b"\x12\x02\x02hi"
        );
        assert_eq!(
            encoded(
                2,
                ChannelEvent::ExtendedData {
                    code: 1,
                    data: Bytes::from_static(b"e"),
                }
            ),
            b"\x13\x02\x01\x01e"
        );
        assert_eq!(encoded(2, ChannelEvent::Eof), [20, 2]);
        assert_eq!(encoded(2, ChannelEvent::ExitStatus { code: 3 }), [21, 2, 3]);
        assert_eq!(
            encoded(
                2,
                ChannelEvent::ExitSignal {
                    signal: "KILL".into(),
                    core_dumped: true,
                    message: String::new(),
                }
            ),
            b"\x16\x02\x04KILL\x01\x00"
        );
        assert_eq!(encoded(2, ChannelEvent::Closed), [23, 2]);
        assert_eq!(encoded(2, ChannelEvent::Writable), [24, 2]);
    }
}
