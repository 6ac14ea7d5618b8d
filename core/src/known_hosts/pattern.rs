//! The host-name field of a known_hosts line: a comma list of wildcard
//! patterns (some negated), or one hashed name (`sshd(8)`, section
//! SSH_KNOWN_HOSTS FILE FORMAT).

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The prefix of a hashed host name. `1` is the only hashing scheme OpenSSH
/// defines: HMAC-SHA1 keyed with a random salt.
const HASH_MAGIC: &str = "|1|";

/// Salt and digest length of a hashed name: both are SHA-1 sized, and OpenSSH
/// rejects a salt of any other length.
pub(crate) const HASH_LEN: usize = 20;

/// Characters that never appear in a name we record: they would be read back
/// as pattern syntax, a marker, a comment, or a port bracket. OpenSSH refuses
/// to record such names too.
const UNRECORDABLE: &[char] = &['@', '?', '*', '#', '[', ']', '|', '\'', '"', '\\', ',', '!'];

/// The name a host is known by: lower case, and `[host]:port` when the port
/// is not 22, exactly as OpenSSH looks it up and records it.
pub fn host_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// Whether `host` may be written into a known_hosts file as a name.
pub(crate) fn is_recordable(host: &str) -> bool {
    !host.is_empty()
        && !host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || UNRECORDABLE.contains(&c))
}

/// The host field of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPatterns {
    /// `|1|salt|hmac`: one name, hidden.
    Hashed {
        salt: [u8; HASH_LEN],
        digest: [u8; HASH_LEN],
    },
    /// A comma list of patterns, each possibly negated with `!`.
    List(Vec<Pattern>),
}

/// One element of a pattern list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    negated: bool,
    /// Lower-cased: names are compared without regard to case.
    glob: String,
}

impl HostPatterns {
    /// Parses the host field. `None` when it is hashed but not a well-formed
    /// `|1|` name; OpenSSH skips such a line as unparsable.
    pub(crate) fn parse(field: &str) -> Option<Self> {
        if field.starts_with('|') {
            let rest = field.strip_prefix(HASH_MAGIC)?;
            let (salt, digest) = rest.split_once('|')?;
            return Some(HostPatterns::Hashed {
                salt: decode_20(salt)?,
                digest: decode_20(digest)?,
            });
        }
        let patterns = field
            .split(',')
            .map(|p| match p.strip_prefix('!') {
                Some(glob) => Pattern {
                    negated: true,
                    glob: glob.to_ascii_lowercase(),
                },
                None => Pattern {
                    negated: false,
                    glob: p.to_ascii_lowercase(),
                },
            })
            .collect();
        Some(HostPatterns::List(patterns))
    }

    /// Whether `name` (already in [`host_name`] form) is one of the names
    /// this field stands for. In a list, a matching negated pattern wins over
    /// any positive one, wherever it appears.
    pub(crate) fn matches(&self, name: &str) -> bool {
        match self {
            HostPatterns::Hashed { salt, digest } => {
                // The digest is secret-free, but comparing in constant time
                // keeps the lookup from leaking which prefix of a guessed name
                // hashed correctly.
                bool::from(hash_name(salt, name).ct_eq(digest))
            }
            HostPatterns::List(patterns) => {
                let name = name.to_ascii_lowercase();
                let mut positive = false;
                for p in patterns {
                    if glob_match(p.glob.as_bytes(), name.as_bytes()) {
                        if p.negated {
                            return false;
                        }
                        positive = true;
                    }
                }
                positive
            }
        }
    }

    /// Whether the field is a hashed name.
    pub(crate) fn is_hashed(&self) -> bool {
        matches!(self, HostPatterns::Hashed { .. })
    }
}

/// HMAC-SHA1 of `name` keyed with `salt`: the hashed-name scheme of
/// OpenSSH's `HashKnownHosts`.
pub(crate) fn hash_name(salt: &[u8; HASH_LEN], name: &str) -> [u8; HASH_LEN] {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(salt).expect("HMAC accepts a key of any length");
    mac.update(name.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The hashed form `|1|base64(salt)|base64(hmac)` of `name`.
pub(crate) fn hashed_field(salt: &[u8; HASH_LEN], name: &str) -> String {
    format!(
        "{HASH_MAGIC}{}|{}",
        Base64::encode_string(salt),
        Base64::encode_string(&hash_name(salt, name))
    )
}

fn decode_20(text: &str) -> Option<[u8; HASH_LEN]> {
    let mut out = [0u8; HASH_LEN];
    let decoded = Base64::decode(text, &mut out).ok()?;
    (decoded.len() == HASH_LEN).then_some(out)
}

/// `*` matches any run of characters (also none), `?` any one character,
/// everything else itself. Iterative with one backtrack point, so the cost is
/// at most `pattern.len() * name.len()` steps even for hostile patterns.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    // Where the last `*` was and which name position it is currently
    // standing in for.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((sp, sn)) => {
                    star = Some((sp, sn + 1));
                    p = sp + 1;
                    n = sn + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_examples() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "example.com", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*a", "aaaa", true),
            ("[host]:22?2", "[host]:2222", true),
            ("10.0.0.*", "10.0.0.7", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), name.as_bytes()),
                *want,
                "{pattern} vs {name}"
            );
        }
    }

    #[test]
    fn negation_beats_a_positive_match_in_any_order() {
        let field = HostPatterns::parse("!bad.example.com,*.example.com").unwrap();
        assert!(field.matches("good.example.com"));
        assert!(!field.matches("bad.example.com"));
        let field = HostPatterns::parse("*.example.com,!bad.example.com").unwrap();
        assert!(!field.matches("bad.example.com"));
        // A negation alone never makes a line match.
        assert!(!HostPatterns::parse("!bad").unwrap().matches("good"));
    }

    #[test]
    fn names_compare_without_case() {
        let field = HostPatterns::parse("Host.Example.COM").unwrap();
        assert!(field.matches(&host_name("host.EXAMPLE.com", 22)));
    }

    #[test]
    fn host_name_brackets_non_default_ports() {
        assert_eq!(host_name("Example.com", 22), "example.com");
        assert_eq!(host_name("example.com", 2222), "[example.com]:2222");
        assert_eq!(host_name("::1", 2222), "[::1]:2222");
    }

    #[test]
    fn hashed_field_round_trips_and_rejects_bad_forms() {
        let salt = [7u8; HASH_LEN];
        let text = hashed_field(&salt, "[example.com]:2222");
        let field = HostPatterns::parse(&text).unwrap();
        assert!(field.is_hashed());
        assert!(field.matches("[example.com]:2222"));
        assert!(!field.matches("example.com"));
        for bad in [
            "|2|AAAA|AAAA",
            "|1|",
            "|1|!!!!|AAAA",
            // A 3-byte salt: OpenSSH requires exactly 20.
            "|1|AAAA|AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert_eq!(HostPatterns::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn recordable_names() {
        assert!(is_recordable("example.com"));
        assert!(is_recordable("192.0.2.1"));
        assert!(is_recordable("::1"));
        for bad in ["", "a b", "*.x", "a,b", "[a]", "a|b", "#a", "!a", "a\n"] {
            assert!(!is_recordable(bad), "{bad:?}");
        }
    }
}
