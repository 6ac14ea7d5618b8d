//! A server application's own interactive program on a terminal channel:
//! no process and no pseudo-terminal, the application itself is what the
//! user types to (a REPL, an admin console, a game), as with Twisted
//! Conch's terminal protocols.
//!
//! The client's terminal is in raw mode (ssh puts it there once it has a
//! `pty-req` accepted), so nothing is echoed or edited unless the program
//! does it: [`TerminalChannel`] is that program's side of the line
//! discipline. It keeps the size and TERM from the `pty-req` and follows
//! `window-change` (RFC 4254 sections 6.2 and 6.7), hands out keystrokes
//! as they come ([`TerminalChannel::next_event`]) or reads an edited line
//! ([`TerminalChannel::read_line`]: echo, erase, kill, interrupt and EOF
//! characters from the client's terminal modes, section 8), and writes text
//! with `\n` turned into `\r\n`, as a terminal's `ONLCR` would.
//!
//! ```no_run
//! # async fn serve(incoming: conch_driver::IncomingChannel) -> std::io::Result<()> {
//! use conch_driver::terminal::{Line, TerminalChannel};
//!
//! let Some(pty) = incoming.pty else { return Ok(()) };
//! let mut term = TerminalChannel::new(incoming.channel, &pty);
//! term.write_text("Welcome! Type 'quit' to leave.\n").await?;
//! loop {
//!     match term.read_line("> ").await? {
//!         Line::Text(line) if line == "quit" => break,
//!         Line::Text(line) => term.write_text(&format!("you said {line:?}\n")).await?,
//!         Line::Interrupt => continue,
//!         Line::Eof => break,
//!     }
//! }
//! term.finish(0).await;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::io;
use std::pin::pin;

use bytes::Bytes;
use conch_core::channel::modes as op;
use conch_core::{ChannelRequest, WindowSize};
use futures_util::future::{select, Either};
use futures_util::io::AsyncWriteExt;

use crate::channel::Channel;
use crate::server::PtyRequest;

/// Largest chunk of keystrokes taken at once.
const CHUNK: usize = 4096;
/// Longest line [`TerminalChannel::read_line`] keeps (further characters
/// are dropped, with a bell), so a peer cannot make it grow without limit.
pub const MAX_LINE: usize = 4096;

/// What happened on the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEvent {
    /// Keystrokes, as the client's terminal sent them.
    Input(Bytes),
    /// The terminal was resized (the new size is also [`TerminalChannel::size`]).
    Resize(WindowSize),
    /// The client asked for a signal (`INT`, `TERM`, ..., RFC 4254 section 6.9).
    Signal(String),
    /// The client will send no more input (EOF or close).
    Eof,
}

/// A line read by [`TerminalChannel::read_line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line (without its end), lossily decoded as UTF-8.
    Text(String),
    /// The interrupt character (Ctrl-C) was typed: the line was dropped.
    Interrupt,
    /// The EOF character (Ctrl-D) on an empty line, or the channel's end.
    Eof,
}

/// The special characters the line editor acts on, from the client's modes.
#[derive(Debug, Clone, Copy)]
struct Chars {
    erase: Option<u8>,
    kill: Option<u8>,
    intr: Option<u8>,
    eof: Option<u8>,
    echo: bool,
}

impl Chars {
    /// The POSIX defaults (DEL, ^U, ^C, ^D, echo), overridden by `modes`.
    fn from_modes(modes: &[(u8, u32)]) -> Chars {
        let mut chars = Chars {
            erase: Some(0x7f),
            kill: Some(0x15),
            intr: Some(0x03),
            eof: Some(0x04),
            echo: true,
        };
        // 255 (and anything not a byte) disables a character (section 8).
        let char_of = |v: u32| u8::try_from(v).ok().filter(|&c| c != 255 && c != 0);
        for &(opcode, value) in modes {
            match opcode {
                op::VERASE => chars.erase = char_of(value),
                op::VKILL => chars.kill = char_of(value),
                op::VINTR => chars.intr = char_of(value),
                op::VEOF => chars.eof = char_of(value),
                op::ECHO => chars.echo = value != 0,
                _ => {}
            }
        }
        chars
    }
}

/// A session channel with a terminal, served by the application itself.
#[derive(Debug)]
pub struct TerminalChannel {
    channel: Channel,
    term: String,
    size: WindowSize,
    chars: Chars,
    /// Keystrokes received and not yet used by `read_line`.
    pending: VecDeque<u8>,
    eof: bool,
}

impl TerminalChannel {
    /// Serves `channel`, whose client sent `pty`.
    pub fn new(channel: Channel, pty: &PtyRequest) -> TerminalChannel {
        let modes = op::decode_terminal_modes(&pty.modes).unwrap_or_default();
        TerminalChannel {
            channel,
            term: pty.term.clone(),
            size: pty.size,
            chars: Chars::from_modes(&modes),
            pending: VecDeque::new(),
            eof: false,
        }
    }

    /// The client's `TERM`.
    pub fn term(&self) -> &str {
        &self.term
    }

    /// The terminal's size now.
    pub fn size(&self) -> WindowSize {
        self.size
    }

    /// The channel underneath (for stderr, or anything else).
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The next thing that happens: keystrokes, a resize, a signal, or the
    /// end of input (then always [`TerminalEvent::Eof`]).
    pub async fn next_event(&mut self) -> io::Result<TerminalEvent> {
        if !self.pending.is_empty() {
            let bytes: Vec<u8> = self.pending.drain(..).collect();
            return Ok(TerminalEvent::Input(Bytes::from(bytes)));
        }
        loop {
            if self.eof {
                // After EOF only requests (a resize) can still come, until
                // the channel closes.
                return match self.channel.next_request().await {
                    Some(request) => match self.on_request(request) {
                        Some(event) => Ok(event),
                        None => continue,
                    },
                    None => Ok(TerminalEvent::Eof),
                };
            }
            // Requests are looked at first: data and requests wait in
            // separate queues, and a resize sent before some keystrokes
            // should be seen before them.
            let event = {
                let request = pin!(self.channel.next_request());
                let data = pin!(self.channel.read_chunk(CHUNK));
                match select(request, data).await {
                    Either::Left((request, _)) => Either::Right(request),
                    Either::Right((data, _)) => Either::Left(data?),
                }
            };
            match event {
                Either::Left(Some(data)) => return Ok(TerminalEvent::Input(data)),
                Either::Left(None) => {
                    self.eof = true;
                    return Ok(TerminalEvent::Eof);
                }
                Either::Right(Some(request)) => {
                    if let Some(event) = self.on_request(request) {
                        return Ok(event);
                    }
                }
                // Closed: no more data will come either.
                Either::Right(None) => {
                    self.eof = true;
                    return Ok(TerminalEvent::Eof);
                }
            }
        }
    }

    fn on_request(&mut self, request: ChannelRequest) -> Option<TerminalEvent> {
        match request {
            ChannelRequest::WindowChange { size } => {
                self.size = size;
                Some(TerminalEvent::Resize(size))
            }
            ChannelRequest::Signal { name } => Some(TerminalEvent::Signal(name)),
            _ => None,
        }
    }

    /// Writes `text`, each `\n` as `\r\n` (the client's terminal is raw).
    pub async fn write_text(&self, text: &str) -> io::Result<()> {
        let mut out = Vec::with_capacity(text.len() + 8);
        for &b in text.as_bytes() {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
        self.write_raw(&out).await
    }

    /// Writes bytes as they are (escape sequences, ...).
    pub async fn write_raw(&self, bytes: &[u8]) -> io::Result<()> {
        (&mut &self.channel).write_all(bytes).await
    }

    /// Shows `prompt` and reads a line as a cooked terminal would: typed
    /// characters echoed (unless the client's modes turn echo off), the
    /// erase character removes one, the kill character the whole line, the
    /// interrupt character drops it ([`Line::Interrupt`]), the EOF
    /// character on an empty line gives [`Line::Eof`]; CR or LF ends it.
    /// Resizes are recorded meanwhile; signals are ignored.
    pub async fn read_line(&mut self, prompt: &str) -> io::Result<Line> {
        self.write_text(prompt).await?;
        let mut line: Vec<u8> = Vec::new();
        loop {
            while let Some(b) = self.pending.pop_front() {
                let c = self.chars;
                if b == b'\r' || b == b'\n' {
                    // A CR LF pair is one end of line.
                    if b == b'\r' && self.pending.front() == Some(&b'\n') {
                        self.pending.pop_front();
                    }
                    self.write_raw(b"\r\n").await?;
                    return Ok(Line::Text(String::from_utf8_lossy(&line).into_owned()));
                } else if Some(b) == c.intr {
                    self.write_raw(b"^C\r\n").await?;
                    return Ok(Line::Interrupt);
                } else if Some(b) == c.eof {
                    if line.is_empty() {
                        self.write_raw(b"\r\n").await?;
                        return Ok(Line::Eof);
                    }
                } else if Some(b) == c.erase || b == 0x08 {
                    let erased = !line.is_empty();
                    // A whole UTF-8 character goes at once.
                    while let Some(last) = line.pop() {
                        if last & 0xc0 != 0x80 {
                            break;
                        }
                    }
                    if c.echo && erased {
                        self.write_raw(b"\x08 \x08").await?;
                    }
                } else if Some(b) == c.kill {
                    let chars = String::from_utf8_lossy(&line).chars().count();
                    line.clear();
                    if c.echo {
                        self.write_raw(&b"\x08 \x08".repeat(chars)).await?;
                    }
                } else if b < 0x20 {
                    // Other control characters are not part of a line.
                } else if line.len() >= MAX_LINE {
                    self.write_raw(b"\x07").await?;
                } else {
                    line.push(b);
                    if c.echo {
                        self.write_raw(&[b]).await?;
                    }
                }
            }
            match self.next_event().await? {
                TerminalEvent::Input(data) => self.pending.extend(data.iter()),
                TerminalEvent::Eof => return Ok(Line::Eof),
                TerminalEvent::Resize(_) | TerminalEvent::Signal(_) => {}
            }
        }
    }

    /// Ends the session: the exit status (RFC 4254 section 6.10), EOF and
    /// CLOSE.
    pub async fn finish(self, status: u32) {
        let _ = self.channel.send_exit_status(status);
        let _ = self.channel.send_eof();
        let _ = self.channel.close_channel().await;
    }
}
