//! Value syntax shared by several keywords: durations (`convtime`), sizes
//! (`scan_scaled`), the `%` tokens and `${ENV}` of ssh_config(5) "TOKENS"
//! and "ENVIRONMENT VARIABLES", and `~` at the start of a path.

use std::path::Path;

/// `convtime`: `N[smhdw]...` in seconds, e.g. `1h30m` = 5400; `None` if
/// malformed or past `INT_MAX` (ssh's limit).
pub fn parse_duration(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            if chars.peek().is_some() {
                continue;
            }
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        let mult = if c.is_ascii_digit() {
            1
        } else {
            match c.to_ascii_lowercase() {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86400,
                'w' => 604800,
                _ => return None,
            }
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    if !digits.is_empty() {
        return None;
    }
    (total <= i32::MAX as u64).then_some(total)
}

/// `scan_scaled`: a byte count with an optional `K`, `M` or `G` (powers of
/// 1024; either case).
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        't' | 'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// The values of the `%` tokens for one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    /// `%h`: the remote host name (after `HostName`).
    pub host: String,
    /// `%n`: the host name as given on the command line.
    pub original_host: String,
    /// `%p`: the remote port.
    pub port: u16,
    /// `%r`: the remote user name.
    pub remote_user: String,
    /// `%u`: the local user name.
    pub local_user: String,
    /// `%l`: the local host name (`%L` is its first component).
    pub local_host: String,
    /// `%d`: the local user's home directory.
    pub home: String,
    /// `%i`: the local user id.
    pub uid: u32,
    /// `%k`: `HostKeyAlias` if set, else the host as typed.
    pub host_key_alias: String,
}

impl Tokens {
    /// `%C`: the SHA-1 hash of `%l%h%p%r` in hex, as OpenSSH 9.2's
    /// `ssh_connection_hash` computes it.
    pub fn connection_hash(&self) -> String {
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        h.update(self.local_host.as_bytes());
        h.update(self.host.as_bytes());
        h.update(self.port.to_string().as_bytes());
        h.update(self.remote_user.as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn value(&self, token: char) -> Option<String> {
        Some(match token {
            '%' => "%".to_string(),
            'h' => self.host.clone(),
            'n' => self.original_host.clone(),
            'p' => self.port.to_string(),
            'r' => self.remote_user.clone(),
            'u' => self.local_user.clone(),
            'l' => self.local_host.clone(),
            'L' => self
                .local_host
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string(),
            'd' => self.home.clone(),
            'i' => self.uid.to_string(),
            'k' => self.host_key_alias.clone(),
            'C' => self.connection_hash(),
            _ => return None,
        })
    }
}

/// Expands the `%` tokens of `s`; an unknown token or a lone `%` at the
/// end is an error, as in ssh's `percent_expand`.
pub fn percent_expand(s: &str, tokens: &Tokens) -> Result<String, String> {
    percent_expand_only(s, tokens, "%hnprulLdikC")
}

/// [`percent_expand`] accepting only the tokens in `allowed` (each option
/// has its own set in ssh_config(5) "TOKENS": `HostName` takes `%h`,
/// `ProxyCommand` `%h %k %n %p %r`).
pub fn percent_expand_only(s: &str, tokens: &Tokens, allowed: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let t = chars
            .next()
            .ok_or_else(|| format!("invalid format \"{s}\""))?;
        let v = tokens
            .value(t)
            .filter(|_| allowed.contains(t))
            .ok_or_else(|| format!("unknown key %{t} in \"{s}\""))?;
        out.push_str(&v);
    }
    Ok(out)
}

/// Expands `${NAME}` from the environment (`lookup`); an unset variable
/// is an error, as in ssh's `dollar_expand`.
pub fn env_expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{ in \"{s}\""))?;
        let name = &after[..end];
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(format!("bad environment variable name in \"{s}\""));
        }
        let v = lookup(name).ok_or_else(|| format!("env var ${{{name}}} has no value"))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `~` or `~/...` at the start becomes the home directory, and `~user`
/// or `~user/...` that user's home from the password database
/// (`/etc/passwd`), as ssh's `tilde_expand_filename`; an unknown user is
/// left as written (the path is then not found).
pub fn tilde_expand(s: &str, home: &Path) -> String {
    let Some(rest) = s.strip_prefix('~') else {
        return s.to_string();
    };
    let (user, tail) = match rest.split_once('/') {
        Some((u, t)) => (u, Some(t)),
        None => (rest, None),
    };
    let dir = if user.is_empty() {
        home.to_path_buf()
    } else {
        match home_of(user) {
            Some(d) => std::path::PathBuf::from(d),
            None => return s.to_string(),
        }
    };
    match tail {
        Some(t) => dir.join(t).display().to_string(),
        None => dir.display().to_string(),
    }
}

/// The home directory of `user` in `/etc/passwd`.
fn home_of(user: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[0] == user).then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens {
            host: "db.example.org".into(),
            original_host: "db".into(),
            port: 2222,
            remote_user: "alice".into(),
            local_user: "bob".into(),
            local_host: "laptop.home".into(),
            home: "/home/bob".into(),
            uid: 1000,
            host_key_alias: "db.example.org".into(),
        }
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("1m30s"), Some(90));
        assert_eq!(parse_duration("1W2D"), Some(604800 + 2 * 86400));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("99999999999"), None);
        assert_eq!(parse_size("100K"), Some(102400));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("-1"), None);
    }

    #[test]
    fn percent_tokens() {
        let t = tokens();
        assert_eq!(
            percent_expand("%d/.ssh/%r@%h:%p %n %u %l %L %i %k %%", &t).unwrap(),
            "/home/bob/.ssh/alice@db.example.org:2222 db bob laptop.home laptop 1000 db.example.org %"
        );
        // sha1("laptop.homedb.example.org2222alice")
        assert_eq!(t.connection_hash().len(), 40);
        assert_ne!(t.connection_hash(), Tokens::default().connection_hash());
        assert!(percent_expand("%z", &t).is_err());
        assert_eq!(
            percent_expand_only("%h:%%", &t, "h%").unwrap(),
            "db.example.org:%"
        );
        assert!(percent_expand_only("%h:%p", &t, "h%").is_err());
        assert!(percent_expand("abc%", &t).is_err());
    }

    #[test]
    fn environment_and_tilde() {
        let env = |n: &str| (n == "KEYS").then(|| "/keys".to_string());
        assert_eq!(env_expand("${KEYS}/id", &env).unwrap(), "/keys/id");
        assert_eq!(env_expand("$KEYS", &env).unwrap(), "$KEYS");
        assert!(env_expand("${NOPE}", &env).is_err());
        assert!(env_expand("${KEYS", &env).is_err());
        let home = Path::new("/home/bob");
        assert_eq!(tilde_expand("~/.ssh/id", home), "/home/bob/.ssh/id");
        assert_eq!(tilde_expand("~", home), "/home/bob");
        assert_eq!(tilde_expand("/x/~", home), "/x/~");
        // `~user`: that user's home from /etc/passwd (root's is there on
        // every Unix); an unknown user stays as written.
        let root_home = home_of("root").expect("root in /etc/passwd");
        assert_eq!(
            tilde_expand("~root/.ssh/id", home),
            format!("{root_home}/.ssh/id")
        );
        assert_eq!(tilde_expand("~root", home), root_home);
        assert_eq!(
            tilde_expand("~no-such-user-conch/x", home),
            "~no-such-user-conch/x"
        );
    }
}
