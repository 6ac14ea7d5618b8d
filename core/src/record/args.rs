//! The transcript encoding of the structured arguments a call can carry
//! (channel requests, server auth decisions, prompts), also used by the
//! canonical event encoding: a tag byte per kind, then the fields in
//! declaration order. The matches are exhaustive, so a new kind does not
//! compile until it has an encoding.

use crate::auth::AuthDecision;
use crate::event::{ChannelRequest, Prompt, WindowSize};

use super::codec::{Put, Reader};
use super::FormatError;

fn put_size(out: &mut Vec<u8>, s: &WindowSize) {
    out.uvar(s.cols.into());
    out.uvar(s.rows.into());
    out.uvar(s.width_px.into());
    out.uvar(s.height_px.into());
}

fn get_size(r: &mut Reader<'_>) -> Result<WindowSize, FormatError> {
    Ok(WindowSize {
        cols: r.u32("columns")?,
        rows: r.u32("rows")?,
        width_px: r.u32("width")?,
        height_px: r.u32("height")?,
    })
}

/// A channel request: a tag per kind, then its fields.
pub(crate) fn put_channel_request(out: &mut Vec<u8>, request: &ChannelRequest) {
    match request {
        ChannelRequest::PtyReq { term, size, modes } => {
            out.byte(0);
            out.text(term);
            put_size(out, size);
            out.bytes(modes);
        }
        ChannelRequest::Env { name, value } => {
            out.byte(1);
            out.text(name);
            out.text(value);
        }
        ChannelRequest::Shell => out.byte(2),
        ChannelRequest::Exec { command } => {
            out.byte(3);
            out.bytes(command);
        }
        ChannelRequest::Subsystem { name } => {
            out.byte(4);
            out.text(name);
        }
        ChannelRequest::WindowChange { size } => {
            out.byte(5);
            put_size(out, size);
        }
        ChannelRequest::XonXoff { client_can_do } => {
            out.byte(6);
            out.flag(*client_can_do);
        }
        ChannelRequest::Signal { name } => {
            out.byte(7);
            out.text(name);
        }
        ChannelRequest::ExitStatus { code } => {
            out.byte(8);
            out.uvar((*code).into());
        }
        ChannelRequest::ExitSignal {
            signal,
            core_dumped,
            message,
        } => {
            out.byte(9);
            out.text(signal);
            out.flag(*core_dumped);
            out.text(message);
        }
        ChannelRequest::Other { name, data } => {
            out.byte(10);
            out.text(name);
            out.bytes(data);
        }
        ChannelRequest::AuthAgentReq => out.byte(11),
    }
}

pub(crate) fn get_channel_request(r: &mut Reader<'_>) -> Result<ChannelRequest, FormatError> {
    Ok(match r.byte("channel request")? {
        0 => ChannelRequest::PtyReq {
            term: r.text("term")?.to_string(),
            size: get_size(r)?,
            modes: r.bytes("modes")?.to_vec(),
        },
        1 => ChannelRequest::Env {
            name: r.text("name")?.to_string(),
            value: r.text("value")?.to_string(),
        },
        2 => ChannelRequest::Shell,
        3 => ChannelRequest::Exec {
            command: r.bytes("command")?.to_vec(),
        },
        4 => ChannelRequest::Subsystem {
            name: r.text("subsystem")?.to_string(),
        },
        5 => ChannelRequest::WindowChange { size: get_size(r)? },
        6 => ChannelRequest::XonXoff {
            client_can_do: r.flag("client can do")?,
        },
        7 => ChannelRequest::Signal {
            name: r.text("signal")?.to_string(),
        },
        8 => ChannelRequest::ExitStatus {
            code: r.u32("exit status")?,
        },
        9 => ChannelRequest::ExitSignal {
            signal: r.text("signal")?.to_string(),
            core_dumped: r.flag("core dumped")?,
            message: r.text("message")?.to_string(),
        },
        10 => ChannelRequest::Other {
            name: r.text("request name")?.to_string(),
            data: bytes::Bytes::copy_from_slice(r.bytes("request data")?),
        },
        11 => ChannelRequest::AuthAgentReq,
        _ => return Err(r.invalid("channel request")),
    })
}

pub(crate) fn put_prompts(out: &mut Vec<u8>, prompts: &[Prompt]) {
    out.usize(prompts.len());
    for p in prompts {
        out.text(&p.prompt);
        out.flag(p.echo);
    }
}

fn get_prompts(r: &mut Reader<'_>) -> Result<Vec<Prompt>, FormatError> {
    let n = r.usize("prompt count")?;
    let mut prompts = Vec::new();
    for _ in 0..n {
        prompts.push(Prompt {
            prompt: r.text("prompt")?.to_string(),
            echo: r.flag("echo")?,
        });
    }
    Ok(prompts)
}

pub(crate) fn put_auth_decision(out: &mut Vec<u8>, d: &AuthDecision) {
    match d {
        AuthDecision::Accept => out.byte(0),
        AuthDecision::Reject => out.byte(1),
        AuthDecision::Partial { methods } => {
            out.byte(2);
            out.texts(methods);
        }
        AuthDecision::InfoRequest {
            name,
            instruction,
            prompts,
        } => {
            out.byte(3);
            out.text(name);
            out.text(instruction);
            put_prompts(out, prompts);
        }
        AuthDecision::ChangePassword { prompt } => {
            out.byte(4);
            out.text(prompt);
        }
    }
}

pub(crate) fn get_auth_decision(r: &mut Reader<'_>) -> Result<AuthDecision, FormatError> {
    Ok(match r.byte("auth decision")? {
        0 => AuthDecision::Accept,
        1 => AuthDecision::Reject,
        2 => AuthDecision::Partial {
            methods: r.texts("methods")?,
        },
        3 => AuthDecision::InfoRequest {
            name: r.text("name")?.to_string(),
            instruction: r.text("instruction")?.to_string(),
            prompts: get_prompts(r)?,
        },
        4 => AuthDecision::ChangePassword {
            prompt: r.text("prompt")?.to_string(),
        },
        _ => return Err(r.invalid("auth decision")),
    })
}
