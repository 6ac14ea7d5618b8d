//! Glob patterns in `conch sftp`'s paths, as sftp(1) expands them (with
//! glob(3); matched by the `globset` crate): `*`, `?` and `[...]` (`[!...]`/`[^...]` negated, `a-z`
//! ranges), a backslash quoting the next character, and a leading `.` in
//! a name matched only by a pattern that starts with one. Remote patterns
//! are matched against the server's listings, local ones against the
//! local directory's; each component of a path may be a pattern.

use std::path::{Path, PathBuf};

use conch_tokio::sftp::conch_sftp::names::join;
use conch_tokio::sftp::Sftp;

/// Whether `s` holds a glob character (not quoted by a backslash).
pub fn has_magic(s: &str) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// A pattern without glob meaning: its backslash quotes removed.
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One path component's pattern, compiled once for a directory's names.
struct Pattern {
    /// `None` for what glob(3) does not take as a pattern (an unclosed
    /// `[`): then the text, unquoted, stands for itself.
    glob: Option<globset::GlobMatcher>,
    literal: String,
    /// glob(3) without GLOB_PERIOD: a leading `.` in a name is matched
    /// only by a leading `.` in the pattern.
    dot: bool,
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .ok()
            .map(|g| g.compile_matcher());
        Pattern {
            glob,
            literal: unquote(pattern),
            dot: pattern.starts_with('.') || pattern.starts_with("\\."),
        }
    }

    /// Whether `name` matches.
    fn matches(&self, name: &str) -> bool {
        if name.starts_with('.') && !self.dot {
            return false;
        }
        match &self.glob {
            Some(glob) => glob.is_match(name),
            None => self.literal == name,
        }
    }
}

/// Expands a remote path (absolute, as the shell made it) whose components
/// may be patterns; sorted, as sftp lists them. A path without patterns is
/// returned as is, whether it exists or not.
pub async fn remote(sftp: &Sftp, path: &str) -> Result<Vec<String>, String> {
    if !has_magic(path) {
        return Ok(vec![unquote(path)]);
    }
    let mut found = vec![String::from(if path.starts_with('/') { "/" } else { "" })];
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        for base in &found {
            if !has_magic(part) {
                next.push(join(base, &unquote(part)));
                continue;
            }
            let pattern = Pattern::new(part);
            let dir = if base.is_empty() { "." } else { base.as_str() };
            // An unreadable directory matches nothing, as in glob(3).
            let Ok(entries) = sftp.list_dir(dir).await else {
                continue;
            };
            for e in entries {
                if pattern.matches(&e.name) && (last || e.attrs.is_dir() || e.attrs.is_symlink()) {
                    next.push(join(base, &e.name));
                }
            }
        }
        found = next;
    }
    found.sort();
    Ok(found)
}

/// Expands a local path whose components may be patterns; sorted. A path
/// without patterns is returned as is.
pub fn local(path: &Path) -> Vec<PathBuf> {
    let text = path.to_string_lossy();
    if !has_magic(&text) {
        return vec![PathBuf::from(unquote(&text))];
    }
    let mut found = vec![PathBuf::new()];
    for comp in path.components() {
        let part = comp.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for base in &found {
            if !has_magic(&part) {
                next.push(base.join(unquote(&part)));
                continue;
            }
            let pattern = Pattern::new(&part);
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                if let Some(name) = e.file_name().to_str() {
                    if pattern.matches(name) {
                        next.push(base.join(name));
                    }
                }
            }
        }
        found = next;
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        Pattern::new(pattern).matches(name)
    }

    #[test]
    fn patterns_match_as_glob_does() {
        assert!(matches("*.txt", "a.txt"));
        assert!(!matches("*.txt", "a.txt.bak"));
        assert!(matches("a?c", "abc") && !matches("a?c", "ac"));
        assert!(matches("[ab]*", "bz") && !matches("[ab]*", "cz"));
        assert!(matches("[!ab]*", "cz") && !matches("[^ab]*", "az"));
        assert!(matches("f[0-9]", "f7") && !matches("f[0-9]", "fx"));
        assert!(matches("[]]", "]") && matches("a[", "a["));
        assert!(matches(r"\*", "*") && !matches(r"\*", "x"));
        assert!(matches("*a*b*c*", "xxaxxbxxcxx") && !matches("*a*b*c*", "xxaxxcxxbx"));
        // A leading dot is matched only by a leading dot.
        assert!(!matches("*", ".hidden") && !matches("?hidden", ".hidden"));
        assert!(matches(".h*", ".hidden") && matches("*", "visible"));
        assert!(has_magic("a/*.c") && !has_magic(r"a/\*.c") && !has_magic("plain"));
    }

    #[test]
    fn local_patterns_expand_per_component() {
        let dir = std::env::temp_dir().join(format!("conch-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d1")).unwrap();
        std::fs::create_dir_all(dir.join("d2")).unwrap();
        for f in ["d1/a.txt", "d1/b.bin", "d2/c.txt", "d2/.h.txt"] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let got = local(&dir.join("d*/*.txt"));
        assert_eq!(got, [dir.join("d1/a.txt"), dir.join("d2/c.txt")]);
        assert!(local(&dir.join("*.none")).is_empty());
        assert_eq!(local(&dir.join("plain")), [dir.join("plain")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
