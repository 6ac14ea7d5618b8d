//! Encoding and decoding of channel request bodies (RFC 4254 section 6):
//! the type-specific fields after `boolean want reply`.

use bytes::Bytes;

use crate::event::{ChannelRequest, WindowSize};
use crate::wire::{DecodeError, Encode, Reader};

/// OpenSSH's keepalive probe. Any request type the peer does not know
/// draws a reply, which is all the sender wants; OpenSSH's client answers
/// it with failure, and so do we.
pub(super) const KEEPALIVE: &str = "keepalive@openssh.com";
/// OpenSSH's "end of write" (OpenSSH PROTOCOL section 2.1): the peer will
/// read no more. It is advisory, and the data we might still send is covered
/// by the window, so it is ignored.
pub(super) const EOW: &str = "eow@openssh.com";

/// Appends the type-specific fields of `request`.
pub(super) fn encode_body(request: &ChannelRequest, w: &mut impl Encode) {
    match request {
        ChannelRequest::PtyReq { term, size, modes } => {
            // RFC 4254 section 6.2.
            w.put_str(term);
            put_size(w, size);
            w.put_string(modes);
        }
        ChannelRequest::Env { name, value } => {
            // Section 6.4.
            w.put_str(name);
            w.put_str(value);
        }
        ChannelRequest::Shell => {}
        ChannelRequest::Exec { command } => w.put_string(command),
        ChannelRequest::Subsystem { name } => w.put_str(name),
        ChannelRequest::WindowChange { size } => put_size(w, size),
        ChannelRequest::XonXoff { client_can_do } => w.put_bool(*client_can_do),
        ChannelRequest::Signal { name } => w.put_str(name),
        ChannelRequest::ExitStatus { code } => w.put_u32(*code),
        ChannelRequest::ExitSignal {
            signal,
            core_dumped,
            message,
        } => {
            // Section 6.10; we send no language tag.
            w.put_str(signal);
            w.put_bool(*core_dumped);
            w.put_str(message);
            w.put_str("");
        }
        ChannelRequest::AuthAgentReq => {}
        ChannelRequest::Other { data, .. } => w.put_raw(data),
    }
}

/// Decodes the body of a request of type `name`. `body` is the received
/// payload from just after `want reply`; unknown types keep it as a
/// zero-copy slice.
pub(super) fn decode_body(name: &str, body: Bytes) -> Result<ChannelRequest, DecodeError> {
    let mut r = Reader::new(&body);
    let request = match name {
        "pty-req" => ChannelRequest::PtyReq {
            term: r.utf8()?.to_string(),
            size: get_size(&mut r)?,
            modes: r.string()?.to_vec(),
        },
        "env" => ChannelRequest::Env {
            name: r.utf8()?.to_string(),
            value: r.utf8()?.to_string(),
        },
        "shell" => ChannelRequest::Shell,
        "exec" => ChannelRequest::Exec {
            command: r.string()?.to_vec(),
        },
        "subsystem" => ChannelRequest::Subsystem {
            name: r.utf8()?.to_string(),
        },
        "window-change" => ChannelRequest::WindowChange {
            size: get_size(&mut r)?,
        },
        "xon-xoff" => ChannelRequest::XonXoff {
            client_can_do: r.bool()?,
        },
        "signal" => ChannelRequest::Signal {
            name: r.utf8()?.to_string(),
        },
        crate::forward::AUTH_AGENT_REQ => ChannelRequest::AuthAgentReq,
        "exit-status" => ChannelRequest::ExitStatus { code: r.u32()? },
        "exit-signal" => {
            let signal = r.utf8()?.to_string();
            let core_dumped = r.bool()?;
            let message = r.utf8()?.to_string();
            let _language = r.string()?;
            ChannelRequest::ExitSignal {
                signal,
                core_dumped,
                message,
            }
        }
        _ => {
            return Ok(ChannelRequest::Other {
                name: name.to_string(),
                data: body,
            })
        }
    };
    r.end()?;
    Ok(request)
}

fn put_size(w: &mut impl Encode, size: &WindowSize) {
    w.put_u32(size.cols);
    w.put_u32(size.rows);
    w.put_u32(size.width_px);
    w.put_u32(size.height_px);
}

fn get_size(r: &mut Reader<'_>) -> Result<WindowSize, DecodeError> {
    Ok(WindowSize {
        cols: r.u32()?,
        rows: r.u32()?,
        width_px: r.u32()?,
        height_px: r.u32()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(request: ChannelRequest) {
        let mut body = Vec::new();
        encode_body(&request, &mut body);
        let decoded = decode_body(request.name(), Bytes::from(body)).unwrap();
        assert_eq!(decoded, request);
    }

    #[test]
    fn every_request_type_round_trips() {
        let size = WindowSize {
            cols: 80,
            rows: 24,
            width_px: 640,
            height_px: 480,
        };
        round_trip(ChannelRequest::PtyReq {
            term: "xterm-256color".into(),
            size,
            modes: crate::channel::encode_terminal_modes(&[(53, 1), (128, 38400)]),
        });
        round_trip(ChannelRequest::Env {
            name: "LANG".into(),
            value: "en_US.UTF-8".into(),
        });
        round_trip(ChannelRequest::Shell);
        round_trip(ChannelRequest::Exec {
            command: b"echo \xff".to_vec(),
        });
        round_trip(ChannelRequest::Subsystem {
            name: "sftp".into(),
        });
        round_trip(ChannelRequest::WindowChange { size });
        round_trip(ChannelRequest::XonXoff {
            client_can_do: true,
        });
        round_trip(ChannelRequest::Signal {
            name: "TERM".into(),
        });
        round_trip(ChannelRequest::ExitStatus { code: 42 });
        round_trip(ChannelRequest::ExitSignal {
            signal: "SEGV".into(),
            core_dumped: true,
            message: "boom".into(),
        });
        round_trip(ChannelRequest::Other {
            name: "x@example.com".into(),
            data: Bytes::from_static(b"\x00\x00\x00\x01z"),
        });
    }

    #[test]
    fn exit_signal_wire_format_has_language_tag() {
        let mut body = Vec::new();
        encode_body(
            &ChannelRequest::ExitSignal {
                signal: "KILL".into(),
                core_dumped: false,
                message: "".into(),
            },
            &mut body,
        );
        assert_eq!(body, b"\0\0\0\x04KILL\0\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn invalid_utf8_text_is_malformed() {
        let mut body = Vec::new();
        body.put_string(b"LANG");
        body.put_string(b"\xc3\x28");
        assert!(decode_body("env", Bytes::from(body)).is_err());
        let mut body = Vec::new();
        body.put_string(b"\xff");
        assert!(decode_body("subsystem", Bytes::from(body)).is_err());
    }

    #[test]
    fn truncated_or_trailing_bytes_are_malformed() {
        assert!(decode_body("exit-status", Bytes::from_static(b"\0\0\0")).is_err());
        assert!(decode_body("exit-status", Bytes::from_static(b"\0\0\0\x01\x02")).is_err());
        assert!(decode_body("shell", Bytes::from_static(b"x")).is_err());
    }
}
