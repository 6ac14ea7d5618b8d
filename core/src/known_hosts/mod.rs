//! The OpenSSH `known_hosts` file: parsing, host-key verdicts, and the text
//! of new entries (`sshd(8)`, section SSH_KNOWN_HOSTS FILE FORMAT).
//!
//! Everything here is pure. A helper elsewhere reads the file (under a lock),
//! hands the text to [`KnownHosts::parse`], asks [`KnownHosts::check`] for a
//! [`Verdict`], and appends whatever [`KnownHosts::add`] returns. Saving is
//! always an append, so lines this module does not understand (comments,
//! blank lines, RSA1 keys, unknown markers, key types we cannot parse) are
//! never rewritten; [`KnownHosts::to_text`] reproduces the parsed text byte
//! for byte.
//!
//! Where this differs from OpenSSH on purpose: a host known only with keys of
//! *other* types is [`Verdict::Unknown`] here. OpenSSH's lookup would call it
//! changed, and avoids that case by asking servers for the key types it
//! already knows first; [`KnownHosts::host_keys`] gives the transport what it
//! needs to do the same.

mod cert;
mod pattern;
mod prompt;

use std::fmt;
// `core::net::IpAddr` is a plain value type: parsing an address does no I/O.
use core::net::IpAddr;

use rand_core::CryptoRng;

use crate::keys::{KeyError, PublicKey};
use crate::wire::Reader;

pub use cert::CertVerdict;
pub use pattern::host_name;
use pattern::{hashed_field, is_recordable, HostPatterns, HASH_LEN};
pub use prompt::{
    changed_key_warning, host_added_warning, ip_added_warning, ip_mismatch_warning, key_type_label,
    parse_answer, revoked_key_warning, unknown_host_prompt, Answer, ASK_AGAIN_PROMPT,
};

/// The marker that may start an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Marker {
    /// `@cert-authority`: the key is a CA trusted to sign host certificates
    /// for the matching names. Never matches a plain host key.
    CertAuthority,
    /// `@revoked`: the key must never be accepted for the matching names.
    Revoked,
}

/// One parsed entry: `[marker] hosts keytype base64 [comment]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    line: usize,
    marker: Option<Marker>,
    hosts: HostPatterns,
    key_type: String,
    blob: Vec<u8>,
    /// `None` for a key type Conch cannot decode yet (kept, compared by
    /// blob, and still listed by [`KnownHosts::host_keys`]).
    key: Option<PublicKey>,
    comment: String,
}

impl Entry {
    /// The 1-based line number in the parsed text, as OpenSSH reports it
    /// ("Offending key in FILE:LINE").
    pub fn line(&self) -> usize {
        self.line
    }

    /// The marker, if any.
    pub fn marker(&self) -> Option<Marker> {
        self.marker
    }

    /// The key on the line, if its type is one Conch can decode.
    pub fn key(&self) -> Option<&PublicKey> {
        self.key.as_ref()
    }

    /// The key type written on the line, e.g. `ssh-ed25519`.
    pub fn key_type(&self) -> &str {
        &self.key_type
    }

    /// The key's wire blob (RFC 4253 section 6.6).
    pub fn key_blob(&self) -> &[u8] {
        &self.blob
    }

    /// The text after the key, if any (leading blanks removed).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// Whether the host field is a hashed name (`|1|salt|hmac`).
    pub fn is_hashed(&self) -> bool {
        self.hosts.is_hashed()
    }

    /// Whether the host field stands for `name`, which must be in the
    /// [`host_name`] form (`host` or `[host]:port`, any case).
    pub fn matches_name(&self, name: &str) -> bool {
        self.hosts.matches(name)
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("line", &self.line)
            .field("marker", &self.marker)
            .field("hashed", &self.is_hashed())
            .field("key_type", &self.key_type)
            .finish()
    }
}

/// What a line turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineKind {
    /// A comment or a blank line.
    Comment,
    /// A line we could not read; kept, never matched.
    Invalid,
    /// A host key, CA key or revoked key.
    Entry(Box<Entry>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    /// The line as read, without its `\n`.
    text: String,
    kind: LineKind,
}

/// The outcome of looking up a server's host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The host is known with this key: accept.
    Known {
        /// The line that matched.
        line: usize,
    },
    /// The host name is known with this key but its IP address is not
    /// listed: accept, append the entry for the address
    /// (`add(&ip.to_string(), port, key, ...)`, see [`KnownHosts::add`]),
    /// and show [`ip_added_warning`], as OpenSSH's `CheckHostIP` does.
    KnownNewIp {
        /// The line that matched the name.
        line: usize,
        /// The address to add.
        ip: IpAddr,
    },
    /// The host name is known with this key, but its IP address is listed
    /// with a different key of the same type. OpenSSH shows
    /// [`ip_mismatch_warning`] and asks (refusing under strict checking).
    KnownIpMismatch {
        /// The line that matched the name.
        line: usize,
        /// The line with the address's other key.
        ip_line: usize,
    },
    /// The host is not listed, or only with keys of other types: ask the
    /// user or apply the policy for new hosts.
    Unknown,
    /// The host is listed with a different key of the same type. A hard
    /// failure naming `line` ([`changed_key_warning`]), whatever a UI would
    /// answer.
    Changed {
        /// The (last) line with a key of this type for the host.
        line: usize,
        /// The key on that line.
        existing: PublicKey,
    },
    /// The key is listed under `@revoked` for this host: always rejected,
    /// whatever else the file says ([`revoked_key_warning`]).
    Revoked {
        /// The `@revoked` line.
        line: usize,
    },
}

/// A known_hosts operation that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KnownHostsError {
    /// The name contains characters that would be read back as pattern
    /// syntax, a marker or a comment (or is empty); OpenSSH refuses to
    /// record such names too.
    #[error("host name {0:?} cannot be recorded in known_hosts")]
    InvalidHostName(String),
    /// The key could not be written out.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A parsed known_hosts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHosts {
    lines: Vec<Line>,
    /// Whether the text ended with `\n` (or was empty), so an append knows
    /// whether it must first end the last line.
    ends_with_newline: bool,
}

/// How we look up one server: the names it is known by.
struct Lookup {
    name: String,
    ip: Option<(IpAddr, String)>,
    /// For a non-default port: the plain host name, which OpenSSH also
    /// accepts when the `[host]:port` name is unknown.
    portless: Option<String>,
}

/// The status of one name, OpenSSH's HOST_OK / HOST_CHANGED / HOST_NEW.
enum NameStatus<'a> {
    Same(&'a Entry),
    Different(&'a Entry, &'a PublicKey),
    New,
}

impl KnownHosts {
    /// An empty file.
    pub fn new() -> Self {
        KnownHosts {
            lines: Vec::new(),
            ends_with_newline: true,
        }
    }

    /// Parses the text of a known_hosts file. Never fails: every line is
    /// kept, and lines that are not entries are kept as they are.
    pub fn parse(text: &str) -> Self {
        let ends_with_newline = text.is_empty() || text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines = if text.is_empty() {
            Vec::new()
        } else {
            body.split('\n')
                .enumerate()
                .map(|(i, raw)| Line {
                    text: raw.to_string(),
                    kind: parse_line(raw, i + 1),
                })
                .collect()
        };
        KnownHosts {
            lines,
            ends_with_newline,
        }
    }

    /// The text, exactly as parsed plus the lines added since.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&line.text);
        }
        if self.ends_with_newline && !self.lines.is_empty() {
            out.push('\n');
        }
        out
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.lines.iter().filter_map(|l| match &l.kind {
            LineKind::Entry(e) => Some(&**e),
            _ => None,
        })
    }

    /// The 1-based numbers of the lines that are neither comments, blank,
    /// nor readable entries (kept untouched; a UI may warn about them).
    pub fn invalid_lines(&self) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.kind == LineKind::Invalid)
            .map(|(i, _)| i + 1)
            .collect()
    }

    /// The plain host-key entries for `host` on `port`, in file order: what
    /// a client uses to ask the server for a key type it already knows, and
    /// to tell the user that keys of other types are known.
    pub fn host_keys(&self, host: &str, port: u16) -> Vec<&Entry> {
        let name = host_name(host, port);
        self.matching(&name, None).collect()
    }

    /// The `@cert-authority` entries for `host` on `port` (for host
    /// certificates, once Conch checks them).
    pub fn cert_authorities(&self, host: &str, port: u16) -> Vec<&Entry> {
        let name = host_name(host, port);
        self.matching(&name, Some(Marker::CertAuthority)).collect()
    }

    /// Looks up the key a server presented. `ip` is the address connected to,
    /// if known; it is checked too unless it is a loopback address or the
    /// host was given as that address (as OpenSSH's `CheckHostIP`).
    pub fn check(&self, host: &str, port: u16, ip: Option<IpAddr>, key: &PublicKey) -> Verdict {
        let lookup = Lookup::new(host, port, ip);

        // A revoked key is refused whatever the other lines say, and whichever
        // of the server's names the `@revoked` line covers.
        let names = std::iter::once(&lookup.name)
            .chain(lookup.ip.as_ref().map(|(_, n)| n))
            .chain(lookup.portless.as_ref());
        for name in names {
            if let Some(e) = self
                .matching(name, Some(Marker::Revoked))
                .find(|e| e.blob == key.blob())
            {
                return Verdict::Revoked { line: e.line };
            }
        }

        match self.status(&lookup.name, key) {
            NameStatus::Same(entry) => match &lookup.ip {
                None => Verdict::Known { line: entry.line },
                Some((ip, ip_name)) => match self.status(ip_name, key) {
                    NameStatus::Same(_) => Verdict::Known { line: entry.line },
                    NameStatus::New => Verdict::KnownNewIp {
                        line: entry.line,
                        ip: *ip,
                    },
                    NameStatus::Different(other, _) => Verdict::KnownIpMismatch {
                        line: entry.line,
                        ip_line: other.line,
                    },
                },
            },
            NameStatus::Different(entry, existing) => Verdict::Changed {
                line: entry.line,
                existing: existing.clone(),
            },
            NameStatus::New => {
                // OpenSSH retries a new `[host]:port` under the plain name and
                // accepts the same key found there; a different key there does
                // not make the port's key "changed".
                if let Some(portless) = &lookup.portless {
                    if let NameStatus::Same(entry) = self.status(portless, key) {
                        return Verdict::Known { line: entry.line };
                    }
                }
                Verdict::Unknown
            }
        }
    }

    /// Records `key` for `host` on `port` and returns the text to append to
    /// the file, or `None` when the host is already known with this key (no
    /// duplicates). The name is hashed when `hashed` is set (OpenSSH's
    /// `HashKnownHosts`, Conch's default), with a salt from `rng`. The text
    /// ends with `\n`, and starts with one when the parsed text did not end
    /// its last line.
    pub fn add(
        &mut self,
        host: &str,
        port: u16,
        key: &PublicKey,
        hashed: bool,
        rng: &mut dyn CryptoRng,
    ) -> Result<Option<String>, KnownHostsError> {
        let name = host_name(host, port);
        if let NameStatus::Same(_) = self.status(&name, key) {
            return Ok(None);
        }
        let line = entry_line(host, port, key, hashed, rng)?;
        let mut text = String::new();
        if !self.ends_with_newline {
            text.push('\n');
        }
        text.push_str(&line);
        let raw = line.trim_end_matches('\n');
        let number = self.lines.len() + 1;
        self.lines.push(Line {
            text: raw.to_string(),
            kind: parse_line(raw, number),
        });
        self.ends_with_newline = true;
        Ok(Some(text))
    }

    /// Plain (unmarked) or `marker` entries whose host field covers `name`.
    fn matching<'a>(
        &'a self,
        name: &str,
        marker: Option<Marker>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        let name = name.to_string();
        self.entries()
            .filter(move |e| e.marker == marker && e.hosts.matches(&name))
    }

    /// OpenSSH's lookup of one name: the first line with this very key wins;
    /// otherwise the last line with a key of the same type makes it changed.
    fn status(&self, name: &str, key: &PublicKey) -> NameStatus<'_> {
        let algorithm = key.algorithm();
        let mut different = NameStatus::New;
        for entry in self.matching(name, None) {
            // An entry of this very type that did not decode is corrupt, and
            // skipped as OpenSSH skips unreadable lines; one of a type we
            // cannot decode is a different type, so never "changed".
            let Some(existing) = &entry.key else { continue };
            // By blob: `PublicKey` equality also compares comments.
            if existing.blob() == key.blob() {
                return NameStatus::Same(entry);
            }
            if entry.key_type == algorithm {
                different = NameStatus::Different(entry, existing);
            }
        }
        different
    }
}

impl Default for KnownHosts {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for KnownHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Lookup {
    fn new(host: &str, port: u16, ip: Option<IpAddr>) -> Self {
        let name = host_name(host, port);
        let ip = ip
            .filter(|ip| !ip.is_loopback())
            .map(|ip| (ip, host_name(&ip.to_string(), port)))
            .filter(|(_, ip_name)| *ip_name != name);
        let portless = (port != 22).then(|| host_name(host, 22));
        Lookup { name, ip, portless }
    }
}

/// The line (ending in `\n`) recording `key` for `host` on `port`:
/// `[host]:port` for ports other than 22, the name hashed with a random
/// 20-byte salt from `rng` when `hashed` is set. No check for duplicates;
/// [`KnownHosts::add`] does that.
pub fn entry_line(
    host: &str,
    port: u16,
    key: &PublicKey,
    hashed: bool,
    rng: &mut dyn CryptoRng,
) -> Result<String, KnownHostsError> {
    if !is_recordable(host) {
        return Err(KnownHostsError::InvalidHostName(host.to_string()));
    }
    let name = host_name(host, port);
    let field = if hashed {
        let mut salt = [0u8; HASH_LEN];
        rng.fill_bytes(&mut salt);
        hashed_field(&salt, &name)
    } else {
        name
    };
    Ok(format!("{field} {}\n", key.to_openssh()))
}

/// Reads one line; `number` is 1-based.
fn parse_line(raw: &str, number: usize) -> LineKind {
    // OpenSSH strips only the `\n`; a `\r` left by an editor is blank space
    // to us, so a CRLF file still reads.
    let text = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
    if text.is_empty() || text.starts_with('#') {
        return LineKind::Comment;
    }
    match parse_entry(text, number) {
        Some(entry) => LineKind::Entry(Box::new(entry)),
        None => LineKind::Invalid,
    }
}

fn parse_entry(text: &str, number: usize) -> Option<Entry> {
    let mut rest = text;
    let mut marker = None;
    if rest.starts_with('@') {
        let (word, after) = split_field(rest)?;
        marker = Some(match word {
            "@cert-authority" => Marker::CertAuthority,
            "@revoked" => Marker::Revoked,
            _ => return None,
        });
        rest = after;
    }
    let (hosts, after) = split_field(rest)?;
    let hosts = HostPatterns::parse(hosts)?;
    let (key_type, after) = split_field(after)?;
    let (blob_b64, comment) = match split_field(after) {
        Some((b, c)) => (b, c),
        None => (after, ""),
    };
    if blob_b64.is_empty() {
        return None;
    }
    let blob = <base64ct::Base64 as base64ct::Encoding>::decode_vec(blob_b64).ok()?;
    // The type written before the blob must be the one inside it (which
    // also rejects RSA1 lines, whose second field is a number).
    if Reader::new(&blob).string().ok()? != key_type.as_bytes() {
        return None;
    }
    // A key Conch cannot decode (a type without support in this build, or a
    // damaged blob) is kept as an opaque entry: compared by blob, never
    // "changed" (see `status`), and still a known type for `host_keys`.
    let key = PublicKey::from_blob(&blob).ok();
    Some(Entry {
        line: number,
        marker,
        hosts,
        key_type: key_type.to_string(),
        blob,
        key,
        comment: comment.to_string(),
    })
}

/// Splits off the first blank-separated field; `None` if nothing follows it.
fn split_field(text: &str) -> Option<(&str, &str)> {
    let end = text.find([' ', '\t'])?;
    let (field, rest) = text.split_at(end);
    Some((field, rest.trim_start_matches([' ', '\t'])))
}

#[cfg(test)]
mod tests;
