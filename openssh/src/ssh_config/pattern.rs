//! OpenSSH's patterns (ssh_config(5) "PATTERNS"): `*` matches any run of
//! characters, `?` exactly one; a list is comma-separated and an entry
//! starting with `!` negates.

/// Whether `s` matches the wildcard `pattern` (`*` and `?`).
pub fn wildcard_match(s: &str, pattern: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with one backtrack point: linear in practice and
    // never recursive, so a hostile pattern cannot exhaust the stack.
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == '?' || c == s[si] => {
                si += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// OpenSSH's `match_pattern_list` on a comma-separated `list`: 1 if a
/// positive entry matched, -1 if a negated entry matched (which wins), 0
/// if nothing matched. `lower` lowers the patterns' case first, as ssh
/// does for host names.
pub fn match_list(s: &str, list: &str, lower: bool) -> i8 {
    let mut got = 0;
    for entry in list.split(',') {
        let (negated, pat) = match entry.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, entry),
        };
        let pat = if lower {
            pat.to_ascii_lowercase()
        } else {
            pat.to_string()
        };
        if wildcard_match(s, &pat) {
            if negated {
                return -1;
            }
            got = 1;
        }
    }
    got
}

/// A `Host` line's patterns (several arguments, each possibly negated):
/// true if some positive pattern matches and no negated one does.
pub fn host_line_matches(host: &str, patterns: &[String]) -> bool {
    let mut matched = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if wildcard_match(host, neg) => return false,
            Some(_) => {}
            None if wildcard_match(host, p) => matched = true,
            None => {}
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("web1.example.org", "*.example.org"));
        assert!(wildcard_match("web1", "web?"));
        assert!(!wildcard_match("web12", "web?"));
        assert!(wildcard_match("", "*"));
        assert!(wildcard_match("abcabd", "*abd"));
        assert!(!wildcard_match("abc", "ab"));
        assert!(!wildcard_match("a", ""));
        // Exponential backtracking would hang here.
        assert!(!wildcard_match(
            &"a".repeat(200),
            &"*a".repeat(50).replace("a", "a*b")
        ));
    }

    #[test]
    fn host_lines_with_negation() {
        let pats = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(host_line_matches("db1", &pats("web* db*")));
        assert!(!host_line_matches("db1", &pats("* !db1")));
        assert!(!host_line_matches("db1", &pats("!db1 *")));
        assert!(host_line_matches("db2", &pats("* !db1")));
        // A line of only negations never matches.
        assert!(!host_line_matches("db2", &pats("!db1")));
    }

    #[test]
    fn comma_lists() {
        assert_eq!(match_list("alice", "bob,al*", false), 1);
        assert_eq!(match_list("alice", "*,!alice", false), -1);
        assert_eq!(match_list("carol", "bob,al*", false), 0);
        assert_eq!(match_list("host", "HOST", true), 1);
    }
}
