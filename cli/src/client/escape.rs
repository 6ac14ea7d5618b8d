//! ssh(1)'s escape sequences (ESCAPE CHARACTERS): the escape character
//! (`~` unless `-e`) typed first on a line starts a command to the client
//! rather than input to the remote side. Only with a terminal, as in ssh.

/// The escape character setting: `-e` / `EscapeChar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscapeChar {
    /// Escapes are recognised after this byte.
    Char(u8),
    /// `none`: no escapes, the session is fully transparent.
    None,
}

impl Default for EscapeChar {
    fn default() -> Self {
        EscapeChar::Char(b'~')
    }
}

impl EscapeChar {
    /// Parses ssh's forms: one character, `^X` for a control character,
    /// or `none`.
    pub fn parse(value: &str) -> Result<EscapeChar, String> {
        match value.as_bytes() {
            b"none" => Ok(EscapeChar::None),
            [c] if c.is_ascii() => Ok(EscapeChar::Char(*c)),
            [b'^', c] if c.is_ascii() => Ok(EscapeChar::Char(c & 0x1f)),
            _ => Err(format!("Bad escape character '{value}'.")),
        }
    }
}

/// What the client does with typed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes to the remote side.
    Send(Vec<u8>),
    /// `~.`: disconnect.
    Disconnect,
    /// `~?`: print the help.
    Help,
    /// `~#`: list the connections.
    ListConnections,
}

/// The escape state machine over typed input.
#[derive(Debug)]
pub struct Escapes {
    escape: EscapeChar,
    /// At the start of a line (ssh starts as if after a newline).
    at_line_start: bool,
    /// The escape character was typed at a line's start.
    pending: bool,
}

impl Escapes {
    /// Recognises escapes after `escape`.
    pub fn new(escape: EscapeChar) -> Escapes {
        Escapes {
            escape,
            at_line_start: true,
            pending: false,
        }
    }

    /// Processes typed bytes; returns the actions in order.
    pub fn feed(&mut self, input: &[u8]) -> Vec<Action> {
        let EscapeChar::Char(escape) = self.escape else {
            return vec![Action::Send(input.to_vec())];
        };
        let mut actions = Vec::new();
        let mut send = Vec::new();
        let flush = |send: &mut Vec<u8>, actions: &mut Vec<Action>| {
            if !send.is_empty() {
                actions.push(Action::Send(std::mem::take(send)));
            }
        };
        for &b in input {
            if self.pending {
                self.pending = false;
                match b {
                    b'.' => {
                        flush(&mut send, &mut actions);
                        actions.push(Action::Disconnect);
                        // Nothing typed after the disconnect is sent.
                        return actions;
                    }
                    // ssh's process_escapes: after a local command the
                    // line still counts as just started.
                    b'?' => {
                        flush(&mut send, &mut actions);
                        actions.push(Action::Help);
                        continue;
                    }
                    b'#' => {
                        flush(&mut send, &mut actions);
                        actions.push(Action::ListConnections);
                        continue;
                    }
                    // The escape character twice: one is sent.
                    _ if b == escape => send.push(escape),
                    // Not an escape: both characters go through, as in ssh.
                    _ => {
                        send.push(escape);
                        send.push(b);
                    }
                }
                self.at_line_start = b == b'\r' || b == b'\n';
                continue;
            }
            if self.at_line_start && b == escape {
                self.pending = true;
                continue;
            }
            send.push(b);
            self.at_line_start = b == b'\r' || b == b'\n';
        }
        flush(&mut send, &mut actions);
        actions
    }
}

/// `~?`'s text, with `\r\n` for a terminal in raw mode.
pub fn help(escape: u8) -> String {
    let e = if escape < 0x20 {
        format!("^{}", char::from(escape | 0x40))
    } else {
        char::from(escape).to_string()
    };
    [
        "Supported escape sequences:".to_string(),
        format!(" {e}.   - terminate connection"),
        format!(" {e}#   - list forwarded connections"),
        format!(" {e}?   - this message"),
        format!(" {e}{e}   - send the escape character by typing it twice"),
        "(Note that escapes are only recognized immediately after newline.)".to_string(),
    ]
    .join("\r\n")
        + "\r\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(b: &[u8]) -> Action {
        Action::Send(b.to_vec())
    }

    #[test]
    fn escapes_count_only_at_the_start_of_a_line() {
        let mut e = Escapes::new(EscapeChar::default());
        assert_eq!(e.feed(b"a~."), [send(b"a~.")]);
        assert_eq!(e.feed(b"\r~?"), [send(b"\r"), Action::Help]);
        assert_eq!(e.feed(b"~#"), [Action::ListConnections]);
        assert_eq!(e.feed(b"x\n~~y"), [send(b"x\n~y")]);
        assert_eq!(e.feed(b"\r~"), [send(b"\r")]);
        // Split across reads.
        assert_eq!(e.feed(b"."), [Action::Disconnect]);
    }

    #[test]
    fn the_start_is_a_line_start_and_other_characters_pass_with_the_escape() {
        let mut e = Escapes::new(EscapeChar::default());
        assert_eq!(e.feed(b"~.rest"), [Action::Disconnect]);
        let mut e = Escapes::new(EscapeChar::default());
        assert_eq!(e.feed(b"~x"), [send(b"~x")]);
    }

    #[test]
    fn another_escape_character_or_none() {
        let mut e = Escapes::new(EscapeChar::parse("%").unwrap());
        assert_eq!(e.feed(b"~.\r%."), [send(b"~.\r"), Action::Disconnect]);
        let mut e = Escapes::new(EscapeChar::parse("none").unwrap());
        assert_eq!(e.feed(b"~."), [send(b"~.")]);
        assert_eq!(EscapeChar::parse("^]").unwrap(), EscapeChar::Char(0x1d));
        assert!(EscapeChar::parse("ab").is_err());
        assert!(help(0x1d).contains(" ^].   - terminate"));
    }
}
