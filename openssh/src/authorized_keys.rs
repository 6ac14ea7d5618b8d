//! `authorized_keys` files, the way sshd reads them: who may log in with a
//! public key, and under which restrictions.
//!
//! The format is sshd(8)'s "AUTHORIZED_KEYS FILE FORMAT": one key per line,
//! `#` comment lines and blank lines ignored. A line is
//! `[options] keytype base64-key [comment]`; the options are a
//! comma-separated list without spaces except inside double quotes
//! (`command="echo a, b",no-pty,from="10.0.0.*"`), option names are
//! case-insensitive, and a line with an option sshd does not know is
//! refused, not half-honoured.
//!
//! Parsing is all this module does about options: [`AuthorizedKey::options`]
//! lists them and a server decides which it can enforce (a server that
//! cannot enforce `command=` or `from=` must refuse such keys; see
//! [`KeyOption::restricts_only_unoffered_features`]).
//!
//! Finding a key compares its wire blob against every entry with the
//! `subtle` crate: the time taken does not depend on how much of a key
//! matched, nor on which line it is.
//!
//! ```
//! use conch_openssh::AuthorizedKeys;
//! # let key = conch_core::PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng)).public_key().clone();
//! let text = format!("# laptop\nno-pty,command=\"uptime\" {} alice@laptop\n", key.to_openssh());
//! let keys = AuthorizedKeys::parse(&text);
//! let entry = keys.find(&key).expect("listed");
//! assert_eq!(entry.comment(), "alice@laptop");
//! assert_eq!(entry.option("command"), Some(Some("uptime")));
//! assert!(entry.has_option("no-pty"));
//! ```

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use conch_core::PublicKey;
use subtle::ConstantTimeEq;

/// The options sshd(8) knows that take no value.
const FLAG_OPTIONS: &[&str] = &[
    "agent-forwarding",
    "cert-authority",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-touch-required",
    "no-user-rc",
    "no-x11-forwarding",
    "port-forwarding",
    "pty",
    "restrict",
    "user-rc",
    "verify-required",
    "x11-forwarding",
];

/// The options sshd(8) knows that take a quoted value.
const VALUE_OPTIONS: &[&str] = &[
    "command",
    "environment",
    "expiry-time",
    "from",
    "permitlisten",
    "permitopen",
    "principals",
    "tunnel",
];

/// Value options sshd refuses to see twice on one line (auth-options.c:
/// one forced command, one principals list, one expiry, one tunnel).
const SINGLE_OPTIONS: &[&str] = &["command", "expiry-time", "principals", "tunnel"];

/// Options that only take away what a server which offers no forwarding
/// and runs no `~/.ssh/rc` never gives: such a server enforces them by
/// doing nothing.
const FORWARDING_RESTRICTIONS: &[&str] = &[
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-user-rc",
    "no-x11-forwarding",
];

/// One option of an authorized_keys line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOption {
    name: String,
    value: Option<String>,
}

impl KeyOption {
    /// The option's name, lower case (`no-pty`, `command` ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of a `name="value"` option, unquoted (`\"` unescaped).
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// Whether this option only forbids agent, port or X11 forwarding or
    /// `~/.ssh/rc`: a server that offers none of those enforces it by
    /// construction. Every other option (`command=`, `from=`, `no-pty`,
    /// `restrict` ...) needs the server's own enforcement.
    pub fn restricts_only_unoffered_features(&self) -> bool {
        FORWARDING_RESTRICTIONS.contains(&self.name.as_str())
    }
}

impl fmt::Display for KeyOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            None => f.write_str(&self.name),
            Some(v) => write!(f, "{}=\"{}\"", self.name, v.replace('"', "\\\"")),
        }
    }
}

/// One key line of an authorized_keys file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKey {
    line: usize,
    options: Vec<KeyOption>,
    key: PublicKey,
    comment: String,
}

impl AuthorizedKey {
    /// The line number in the file (1-based).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The options, in the order written.
    pub fn options(&self) -> &[KeyOption] {
        &self.options
    }

    /// The value of option `name` (case-insensitive): `None` if absent,
    /// `Some(None)` for a flag, `Some(Some(value))` for `name="value"` (the
    /// first, for options that may repeat such as `permitopen`).
    pub fn option(&self, name: &str) -> Option<Option<&str>> {
        self.options
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
            .map(KeyOption::value)
    }

    /// Whether option `name` is present (case-insensitive).
    pub fn has_option(&self, name: &str) -> bool {
        self.option(name).is_some()
    }

    /// The comment after the key (often `user@host`), or empty.
    pub fn comment(&self) -> &str {
        &self.comment
    }
}

/// A line that is not a usable key line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLine {
    /// The line number (1-based).
    pub line: usize,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for InvalidLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A parsed authorized_keys file: its key lines and the lines refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizedKeys {
    keys: Vec<AuthorizedKey>,
    invalid: Vec<InvalidLine>,
}

impl AuthorizedKeys {
    /// Parses the text of an authorized_keys file. A line that cannot be
    /// used (bad options, unknown key type, bad base64) is listed in
    /// [`AuthorizedKeys::invalid_lines`] and grants nothing, as sshd skips it.
    pub fn parse(text: &str) -> Self {
        let mut keys = AuthorizedKeys::default();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok((options, key, comment)) => keys.keys.push(AuthorizedKey {
                    line: line_no,
                    options,
                    key,
                    comment,
                }),
                Err(reason) => keys.invalid.push(InvalidLine {
                    line: line_no,
                    reason,
                }),
            }
        }
        keys
    }

    /// Reads and parses the file at `path`. Bytes that are not UTF-8 are
    /// replaced (such a line cannot hold a valid key anyway).
    pub fn read(path: impl AsRef<Path>) -> io::Result<Self> {
        let bytes = fs::read(path)?;
        Ok(Self::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// The key lines, in file order.
    pub fn keys(&self) -> &[AuthorizedKey] {
        &self.keys
    }

    /// The lines refused, in file order.
    pub fn invalid_lines(&self) -> &[InvalidLine] {
        &self.invalid
    }

    /// Whether the file lists no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The first entry for `key`, or `None`. Every entry's blob is compared
    /// in constant time, and all entries are compared whatever matched, so
    /// the time taken does not tell which line (or how much of a key)
    /// matched.
    ///
    /// A `cert-authority` line never matches here: its key vouches for
    /// certificates ([`Self::find_certificate_authority`]), it does not
    /// log in itself (sshd's `auth_check_authkey_line`).
    pub fn find(&self, key: &PublicKey) -> Option<&AuthorizedKey> {
        let mut found = None;
        for entry in &self.keys {
            if constant_time_eq(entry.key.blob(), key.blob())
                && found.is_none()
                && !entry.has_option("cert-authority")
            {
                found = Some(entry);
            }
        }
        found
    }

    /// Keeps only the entries `keep` returns true for (e.g. the keys whose
    /// options a server can enforce); returns the entries dropped.
    pub fn retain(&mut self, mut keep: impl FnMut(&AuthorizedKey) -> bool) -> Vec<AuthorizedKey> {
        let (kept, dropped) = std::mem::take(&mut self.keys)
            .into_iter()
            .partition(|entry| keep(entry));
        self.keys = kept;
        dropped
    }
}

/// A list of keys without options, e.g. for a server set up in code; each
/// entry's line is its position (1-based).
impl FromIterator<PublicKey> for AuthorizedKeys {
    fn from_iter<I: IntoIterator<Item = PublicKey>>(keys: I) -> Self {
        AuthorizedKeys {
            keys: keys
                .into_iter()
                .enumerate()
                .map(|(i, key)| AuthorizedKey {
                    line: i + 1,
                    options: Vec::new(),
                    key,
                    comment: String::new(),
                })
                .collect(),
            invalid: Vec::new(),
        }
    }
}

/// Compares two byte strings without an early exit (the `subtle` crate),
/// so the time taken does not tell how many leading bytes of a guess were
/// right. Strings of different lengths are unequal; the length itself is
/// not hidden.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `[options] type base64 [comment]` into its parts.
fn parse_line(line: &str) -> Result<(Vec<KeyOption>, PublicKey, String), String> {
    // sshd first tries the line as a bare key, then as options followed by
    // a key (auth2-pubkeyfile.c): a key type never looks like an option
    // list that parses, and an option name is never a key type.
    if let Ok((key, comment)) = parse_key(line) {
        return Ok((Vec::new(), key, comment));
    }
    let (options, rest) = parse_options(line)?;
    let (key, comment) = parse_key(rest.trim_start())?;
    Ok((options, key, comment))
}

/// `type base64 [comment]`.
fn parse_key(text: &str) -> Result<(PublicKey, String), String> {
    let (key_type, rest) = split_token(text);
    let (blob, comment) = split_token(rest);
    if blob.is_empty() {
        return Err(format!("no key after {key_type:?}"));
    }
    let key = PublicKey::from_openssh(&format!("{key_type} {blob}")).map_err(|e| e.to_string())?;
    Ok((key, comment.to_string()))
}

/// The first blank-separated token of `text` and the rest, blanks trimmed.
fn split_token(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&text[..i], text[i..].trim()),
        None => (text, ""),
    }
}

/// The option list at the start of `line`, and what follows it.
fn parse_options(line: &str) -> Result<(Vec<KeyOption>, &str), String> {
    let mut options: Vec<KeyOption> = Vec::new();
    let mut rest = line;
    loop {
        let name_len = rest
            .find(|c: char| c == '=' || c == ',' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_len].to_ascii_lowercase();
        rest = &rest[name_len..];
        let value = if let Some(after) = rest.strip_prefix('=') {
            let (value, after) = quoted(after).ok_or_else(|| {
                format!("option {name:?}: the value must be in double quotes, closed")
            })?;
            rest = after;
            Some(value)
        } else {
            None
        };
        let known = match value {
            None => FLAG_OPTIONS.contains(&name.as_str()),
            Some(_) => VALUE_OPTIONS.contains(&name.as_str()),
        };
        if !known {
            return Err(if name.is_empty() {
                "neither a key nor options".to_string()
            } else if FLAG_OPTIONS.contains(&name.as_str()) {
                format!("option {name:?} takes no value")
            } else if VALUE_OPTIONS.contains(&name.as_str()) {
                format!("option {name:?} needs a value")
            } else {
                format!("unknown option {name:?}")
            });
        }
        if SINGLE_OPTIONS.contains(&name.as_str()) && options.iter().any(|o| o.name == name) {
            return Err(format!("option {name:?} given twice"));
        }
        options.push(KeyOption { name, value });
        match rest.chars().next() {
            Some(',') => rest = &rest[1..],
            Some(c) if c.is_ascii_whitespace() => return Ok((options, rest)),
            _ => return Err("options without a key after them".to_string()),
        }
    }
}

/// A `"..."` value at the start of `text` (`\"` stands for `"`), and what
/// follows the closing quote.
fn quoted(text: &str) -> Option<(String, &str)> {
    let body = text.strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &body[i + 1..])),
            '\\' if body[i + 1..].starts_with('"') => {
                value.push('"');
                chars.next();
            }
            c => value.push(c),
        }
    }
    None
}

mod cert;

#[cfg(test)]
mod tests;
