//! Which OpenSSH a test talks to: the system's (Debian 12's 9.2, on `PATH`
//! and in `/usr/sbin`) or OpenSSH 10 unpacked beside it.
//!
//! OpenSSH 10 is where `mlkem768x25519-sha256` is the default key exchange
//! (OpenSSH 9.9 added it), and where sshd is split into `sshd`,
//! `sshd-session` (9.8) and `sshd-auth` (10.0). Debian 12 has it only in
//! its backports suite, so `scripts/test` (step 1b) downloads Debian's
//! `openssh-client`, `openssh-server` and `openssh-sftp-server` packages
//! from there and unpacks them with `dpkg -x` into [`OPENSSH10_DEFAULT_DIR`]
//! (or the directory in [`OPENSSH10_DIR_ENV`]), leaving the system's
//! OpenSSH installed. Like every peer here, a missing OpenSSH 10 is a test
//! failure that says how to install it, never a skip.
//!
//! ```no_run
//! use conch_interop::{OpenSsh, Sshd, SshdOptions};
//!
//! for openssh in OpenSsh::ALL {
//!     let sshd = Sshd::start(SshdOptions { openssh, ..SshdOptions::default() });
//!     // sshd.ssh_client() runs the same version's `ssh`.
//!     sshd.ssh_client().run("true").assert_success();
//! }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Environment variable naming the directory OpenSSH 10 was unpacked into
/// (the root of the packages' tree: `usr/sbin/sshd` is inside it). Must
/// match `CONCH_OPENSSH10_DIR` in `scripts/test`.
pub const OPENSSH10_DIR_ENV: &str = "CONCH_OPENSSH10_DIR";

/// Where `scripts/test` unpacks OpenSSH 10 unless [`OPENSSH10_DIR_ENV`] says
/// otherwise.
pub const OPENSSH10_DEFAULT_DIR: &str = "/opt/openssh10";

/// One installed OpenSSH: its programs and version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OpenSsh {
    /// The system's OpenSSH (Debian 12: 9.2): `ssh` and friends from `PATH`,
    /// `/usr/sbin/sshd`.
    #[default]
    System,
    /// OpenSSH 10 from Debian's backports, unpacked beside the system's by
    /// `scripts/test` (see the module docs).
    V10,
}

impl OpenSsh {
    /// Both, the system's first.
    pub const ALL: [OpenSsh; 2] = [OpenSsh::System, OpenSsh::V10];

    /// The directory the packages were unpacked into; `/` for the system's.
    pub fn root(self) -> PathBuf {
        match self {
            OpenSsh::System => PathBuf::from("/"),
            OpenSsh::V10 => std::env::var_os(OPENSSH10_DIR_ENV)
                .filter(|dir| !dir.is_empty())
                .map_or_else(|| PathBuf::from(OPENSSH10_DEFAULT_DIR), PathBuf::from),
        }
    }

    /// The sshd binary, by absolute path (sshd re-executes itself, and
    /// OpenSSH 10's sshd its `sshd-session`, for every connection).
    pub fn sshd(self) -> PathBuf {
        self.root().join("usr/sbin/sshd")
    }

    /// A client program (`ssh`, `sftp`, `scp`, `ssh-keygen`, ...): the bare
    /// name, found on `PATH`, for the system's; its path inside
    /// [`OpenSsh::root`] otherwise.
    pub fn program(self, name: &str) -> PathBuf {
        match self {
            OpenSsh::System => PathBuf::from(name),
            OpenSsh::V10 => self.root().join("usr/bin").join(name),
        }
    }

    /// `ssh`.
    pub fn ssh(self) -> PathBuf {
        self.program("ssh")
    }

    /// The standalone `sftp-server` (sshd's own `internal-sftp` is the same
    /// code inside sshd-session).
    pub fn sftp_server(self) -> PathBuf {
        self.root().join("usr/lib/openssh/sftp-server")
    }

    /// sshd_config lines that point sshd at its helper programs when they
    /// are not where it was built to look (`/usr/lib/openssh/`, the system's
    /// 9.2 there has none): OpenSSH 10's `SshdSessionPath` and
    /// `SshdAuthPath` (sshd_config(5)).
    pub fn sshd_config_lines(self) -> Vec<String> {
        match self {
            OpenSsh::System => Vec::new(),
            OpenSsh::V10 => {
                let helpers = self.root().join("usr/lib/openssh");
                vec![
                    format!("SshdSessionPath {}", helpers.join("sshd-session").display()),
                    format!("SshdAuthPath {}", helpers.join("sshd-auth").display()),
                ]
            }
        }
    }

    /// (major, minor) from `ssh -V`, once per process; (0, 0) if it cannot
    /// be told (e.g. not installed).
    pub fn version(self) -> (u32, u32) {
        static VERSIONS: OnceLock<Mutex<HashMap<OpenSsh, (u32, u32)>>> = OnceLock::new();
        let versions = VERSIONS.get_or_init(Default::default);
        let mut versions = versions.lock().unwrap_or_else(|e| e.into_inner());
        *versions.entry(self).or_insert_with(|| {
            let Ok(output) = Command::new(self.ssh()).arg("-V").output() else {
                return (0, 0);
            };
            // "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 ..." on stderr.
            let text = String::from_utf8_lossy(&output.stderr).into_owned();
            parse_openssh_version(&text).unwrap_or((0, 0))
        })
    }

    /// Panics with how to install it unless this OpenSSH's `sshd`, `ssh`
    /// and (for OpenSSH 10) sshd's helper programs are there, and `ssh -V`
    /// says the version this variant stands for.
    #[track_caller]
    pub fn require(self) {
        match self {
            OpenSsh::System => {
                crate::process::require_program(&self.sshd().to_string_lossy(), "openssh-server");
                crate::process::require_program("ssh", "openssh-client");
            }
            OpenSsh::V10 => {
                let helpers = self.root().join("usr/lib/openssh");
                for path in [
                    self.sshd(),
                    self.ssh(),
                    helpers.join("sshd-session"),
                    helpers.join("sshd-auth"),
                ] {
                    if !path.is_file() {
                        panic!("{}", self.missing(&format!("{} not found", path.display())));
                    }
                }
                let (major, minor) = self.version();
                if major != 10 {
                    panic!(
                        "{}",
                        self.missing(&format!(
                            "{} -V says OpenSSH {major}.{minor}",
                            self.ssh().display()
                        ))
                    );
                }
            }
        }
    }

    fn missing(self, what: &str) -> String {
        format!(
            "OpenSSH 10 is not installed beside the system's: {what}. \
             `sudo scripts/test --setup-only` unpacks Debian's backports \
             packages into {} (or set {OPENSSH10_DIR_ENV} to where they are)",
            self.root().display()
        )
    }

    /// A short name for messages, e.g. "OpenSSH 10.0".
    pub fn name(self) -> String {
        let (major, minor) = self.version();
        format!("OpenSSH {major}.{minor}")
    }
}

impl fmt::Display for OpenSsh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenSsh::System => write!(f, "system {}", self.name()),
            OpenSsh::V10 => write!(f, "{} ({})", self.name(), self.root().display()),
        }
    }
}

/// "OpenSSH_9.2p1 Debian-2+deb12u3, ..." -> (9, 2).
pub(crate) fn parse_openssh_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.trim().strip_prefix("OpenSSH_")?;
    let mut numbers = rest.split(|c: char| !c.is_ascii_digit());
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openssh_versions() {
        assert_eq!(
            parse_openssh_version("OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15"),
            Some((9, 2))
        );
        assert_eq!(
            parse_openssh_version("OpenSSH_10.0p2 Debian-7"),
            Some((10, 0))
        );
        assert_eq!(parse_openssh_version("dropbear"), None);
    }

    #[test]
    fn openssh10_lives_under_its_root() {
        let root = OpenSsh::V10.root();
        assert_eq!(OpenSsh::V10.sshd(), root.join("usr/sbin/sshd"));
        assert_eq!(OpenSsh::V10.ssh(), root.join("usr/bin/ssh"));
        assert_eq!(OpenSsh::V10.program("sftp"), root.join("usr/bin/sftp"));
        assert_eq!(OpenSsh::System.ssh(), PathBuf::from("ssh"));
        assert!(OpenSsh::System.sshd_config_lines().is_empty());
        let lines = OpenSsh::V10.sshd_config_lines();
        assert!(lines[0].starts_with("SshdSessionPath /"), "{lines:?}");
        assert!(
            lines[1].ends_with("/usr/lib/openssh/sshd-auth"),
            "{lines:?}"
        );
    }
}
