//! Names a client must check before acting on them. A server chooses the
//! entry names of the directories it lists; a recursive download joins
//! them to a local directory, so a hostile server could otherwise name
//! `../../.bashrc` or `/etc/passwd` (OpenSSH's sftp refuses the same names
//! in `download_dir`, "Server sent suspicious path").

use std::fmt;

/// Why a name from the server is refused as a local file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsafeName {
    /// Empty.
    Empty,
    /// `.` or `..`.
    Dots,
    /// Contains `/` (a path, not a name; absolute names included).
    Slash,
    /// Contains a NUL byte.
    Nul,
    /// Not UTF-8 (kept out rather than mangled into another name).
    NotUtf8,
    /// Longer than 255 bytes (no local file system takes it).
    TooLong,
}

impl fmt::Display for UnsafeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnsafeName::Empty => "empty name",
            UnsafeName::Dots => "'.' or '..'",
            UnsafeName::Slash => "name contains '/'",
            UnsafeName::Nul => "name contains NUL",
            UnsafeName::NotUtf8 => "name is not UTF-8",
            UnsafeName::TooLong => "name longer than 255 bytes",
        })
    }
}

/// Checks that `name` is one plain path component, safe to join to a
/// local directory.
pub fn check_entry_name(name: &[u8]) -> Result<&str, UnsafeName> {
    if name.is_empty() {
        return Err(UnsafeName::Empty);
    }
    if name == b"." || name == b".." {
        return Err(UnsafeName::Dots);
    }
    if name.contains(&b'/') {
        return Err(UnsafeName::Slash);
    }
    // A backslash is a separator on Windows: refused there too.
    if cfg!(windows) && name.contains(&b'\\') {
        return Err(UnsafeName::Slash);
    }
    if name.contains(&0) {
        return Err(UnsafeName::Nul);
    }
    if name.len() > 255 {
        return Err(UnsafeName::TooLong);
    }
    std::str::from_utf8(name).map_err(|_| UnsafeName::NotUtf8)
}

/// Joins a remote directory and a name with `/` (SFTP paths are always
/// `/`-separated, draft section 6.2).
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The last component of a remote path (`a/b/` gives `b`).
pub fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// `YYYY-MM-DD HH:MM` (UTC) for listings, computed without a clock or a
/// time zone database (civil-from-days, proleptic Gregorian calendar).
pub fn format_time(secs: u32) -> String {
    let days = i64::from(secs / 86_400);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        assert_eq!(check_entry_name(b"../x"), Err(UnsafeName::Slash));
        assert_eq!(check_entry_name(b"/etc/passwd"), Err(UnsafeName::Slash));
        assert_eq!(check_entry_name(b".."), Err(UnsafeName::Dots));
        assert_eq!(check_entry_name(b"."), Err(UnsafeName::Dots));
        assert_eq!(check_entry_name(b""), Err(UnsafeName::Empty));
        assert_eq!(check_entry_name(b"a\0b"), Err(UnsafeName::Nul));
        assert_eq!(check_entry_name(&[0xff]), Err(UnsafeName::NotUtf8));
        assert_eq!(check_entry_name(&[b'a'; 256]), Err(UnsafeName::TooLong));
        assert_eq!(check_entry_name(b"..hidden"), Ok("..hidden"));
        assert_eq!(check_entry_name(b"report.txt"), Ok("report.txt"));
    }

    #[test]
    fn join_and_base() {
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(join("/", "b"), "/b");
        assert_eq!(join(".", "b"), "b");
        assert_eq!(base_name("/x/y/"), "y");
        assert_eq!(base_name("y"), "y");
    }

    #[test]
    fn times_format_as_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00");
        assert_eq!(format_time(4_294_967_295), "2106-02-07 06:28");
    }
}
