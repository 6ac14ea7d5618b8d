//! The user's `known_hosts` file on disk, and the host key verifier built on
//! it: what `ssh` does with `~/.ssh/known_hosts` and `StrictHostKeyChecking`.
//!
//! The parsing, lookup and wording are the core's pure
//! [`conch_core::known_hosts`]; this module adds the file: reading it,
//! appending new entries (hashed by default, as OpenSSH's `HashKnownHosts`),
//! creating the parent directory, and an exclusive lock held while the file
//! is re-read and appended to, so two processes saving at once never
//! interleave or duplicate lines. Existing lines are never rewritten.
//!
//! Strict checking against the user's and the system's files, as
//! `ssh -o StrictHostKeyChecking=yes` does, is one call:
//!
//! ```no_run
//! # fn demo() -> std::io::Result<()> {
//! use conch_driver::ClientOptions;
//! use conch_openssh::KnownHostsVerifier;
//!
//! let options = ClientOptions::new(KnownHostsVerifier::strict()?);
//! # Ok(()) }
//! ```
//!
//! Asking about unknown hosts on the terminal, as `ssh` does by default:
//!
//! ```no_run
//! use std::sync::Arc;
//! use conch_driver::ClientOptions;
//! use conch_openssh::{ConsoleUi, KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier};
//!
//! let file = KnownHostsFile::user_default().expect("HOME is set");
//! let verifier = KnownHostsVerifier::new(file, KnownHostsPolicy::Ask, Arc::new(ConsoleUi::new()));
//! let options = ClientOptions::new(verifier.into_policy());
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use conch_core::known_hosts::{
    changed_key_warning, host_added_warning, host_name, ip_added_warning, ip_mismatch_warning,
    key_type_label, revoked_key_warning, unknown_host_prompt, KnownHosts, Verdict,
};
use conch_core::PublicKey;

use conch_driver::{HostKeyPolicy, HostKeyVerdict, HostKeyVerifier, ServerName};

/// The system-wide known_hosts files `ssh` reads after the user's
/// (OpenSSH's default `GlobalKnownHostsFile`); they are never written.
pub const GLOBAL_KNOWN_HOSTS_FILES: &[&str] =
    &["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];

/// One known_hosts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHostsFile {
    path: PathBuf,
    hash_new_entries: bool,
}

impl KnownHostsFile {
    /// The file at `path` (it need not exist yet). New entries are hashed.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        KnownHostsFile {
            path: path.into(),
            hash_new_entries: true,
        }
    }

    /// `~/.ssh/known_hosts` (from `$HOME`), or `None` when `HOME` is not set.
    pub fn user_default() -> Option<Self> {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
        Some(Self::new(
            PathBuf::from(home).join(".ssh").join("known_hosts"),
        ))
    }

    /// Whether new entries hide the host name (`|1|salt|hash`, the default)
    /// or write it in clear (OpenSSH's `HashKnownHosts no`).
    pub fn hash_new_entries(mut self, hashed: bool) -> Self {
        self.hash_new_entries = hashed;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and parses the file; a file that does not exist is empty.
    /// Bytes that are not UTF-8 are replaced for matching only: the file is
    /// never rewritten, so they stay as they are on disk.
    pub fn read(&self) -> io::Result<KnownHosts> {
        match fs::read(&self.path) {
            Ok(bytes) => Ok(KnownHosts::parse(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(KnownHosts::new()),
            Err(e) => Err(e),
        }
    }

    /// Looks up the key `host` on `port` presented (`ip`: the address
    /// connected to, if known). See [`KnownHosts::check`].
    pub fn check(
        &self,
        host: &str,
        port: u16,
        ip: Option<IpAddr>,
        key: &PublicKey,
    ) -> io::Result<Verdict> {
        Ok(self.read()?.check(host, port, ip, key))
    }

    /// Records `key` for `host` on `port`: appends one line (hashed unless
    /// [`KnownHostsFile::hash_new_entries`] said otherwise) unless the file
    /// already knows this host with this key. Returns whether a line was
    /// written.
    ///
    /// Creates the parent directory (mode 0700, like `~/.ssh`) and the
    /// file. The file is re-read under an exclusive lock and appended to
    /// before the lock is released, so concurrent savers (threads or
    /// processes) neither interleave nor duplicate entries.
    pub fn add(&self, host: &str, port: u16, key: &PublicKey) -> io::Result<bool> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)?;
        let mut lock = fd_lock::RwLock::new(file);
        let mut guard = lock.write()?;
        let file: &mut File = &mut guard;
        // Opened for append, the file is read from its start; writes still
        // go to its end whatever the read position.
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut known = KnownHosts::parse(&String::from_utf8_lossy(&bytes));
        let text = known
            .add(
                host,
                port,
                key,
                self.hash_new_entries,
                &mut rand_core::UnwrapErr(getrandom::SysRng),
            )
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let Some(text) = text else {
            return Ok(false);
        };
        // One write of whole lines, flushed before the lock goes. Only a
        // regular file is synced: `/dev/null` (the common
        // `UserKnownHostsFile=/dev/null`) takes the write, as with ssh, but
        // fsync(2) on it fails with EINVAL.
        file.write_all(text.as_bytes())?;
        if file.metadata()?.is_file() {
            file.sync_data()?;
        }
        Ok(true)
    }
}

impl fmt::Display for KnownHostsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// What to do with a host that is not in the file (`StrictHostKeyChecking`).
/// Whatever the policy, a revoked key is refused and a changed one too,
/// except under [`KnownHostsPolicy::AcceptChanged`] (ssh's `no`, which
/// goes on without passwords) and the explicitly insecure
/// [`KnownHostsPolicy::InsecureAcceptAny`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownHostsPolicy {
    /// Refuse unknown hosts (`StrictHostKeyChecking yes`).
    Strict,
    /// Trust an unknown host's key on first use and save it
    /// (`StrictHostKeyChecking accept-new`).
    AcceptNew,
    /// Ask the [`HostKeyUi`] about unknown hosts and save the key if it says
    /// yes (`StrictHostKeyChecking ask`, OpenSSH's default).
    Ask,
    /// `StrictHostKeyChecking no` as ssh: an unknown host's key is saved
    /// as with [`KnownHostsPolicy::AcceptNew`]; a changed key is shown
    /// with OpenSSH's warning and accepted but not saved, and the
    /// connection must then not use passwords or keyboard-interactive,
    /// which a man in the middle would read
    /// ([`KnownHostsVerifier::accepted_changed_key`]; a
    /// [`crate::CommandEndpoint`] and [`crate::HostConfig`] leave them
    /// out). A revoked key is still refused.
    AcceptChanged,
    /// **Insecure**: accept every key, known, unknown or changed, and save
    /// nothing. Anyone on the network path can impersonate the server. For
    /// tests and throw-away demos only.
    InsecureAcceptAny,
}

/// The user's side of host key checking: a yes/no question about an unknown
/// host, and warnings (key added, key changed ...), worded as OpenSSH words
/// them.
pub trait HostKeyUi: Send + Sync {
    /// Asks whether to trust `key`; `prompt` is OpenSSH's question ("The
    /// authenticity of host ... can't be established ... (yes/no/\[fingerprint\])? ").
    /// No answer (no terminal, end of input) means no.
    fn confirm(&self, prompt: &str, key: &PublicKey) -> bool;

    /// Shows a warning (one or more lines, each ending in `\n`).
    fn warn(&self, message: &str);
}

/// Answers no and drops warnings: for programs that must never ask.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUi;

impl HostKeyUi for NoUi {
    fn confirm(&self, _prompt: &str, _key: &PublicKey) -> bool {
        false
    }

    fn warn(&self, _message: &str) {}
}

/// A [`HostKeyVerifier`] that checks keys against a [`KnownHostsFile`]
/// under a [`KnownHostsPolicy`], as `ssh` does:
///
/// - known with this key: accepted;
/// - known with another key of the same type: refused as
///   [`HostKeyVerdict::Changed`] naming the file and line, after OpenSSH's
///   "REMOTE HOST IDENTIFICATION HAS CHANGED" warning; no UI answer
///   overrides this (only [`KnownHostsPolicy::AcceptChanged`] goes on,
///   without passwords);
/// - listed under `@revoked`: refused;
/// - unknown: the policy decides; an accepted key is saved (hashed unless
///   the file says otherwise) and
///   "Permanently added ..." is shown. A failure to save is shown as a
///   warning and the connection goes on, as with OpenSSH.
///
/// Besides its file, a verifier may consult read-only files
/// ([`KnownHostsVerifier::also_read`]), as `ssh` consults
/// `/etc/ssh/ssh_known_hosts`: a key is known if any file lists it, revoked
/// if any file revokes it, changed if some file lists another key of its
/// type and none lists it. New keys are saved to the first file only.
#[derive(Clone)]
pub struct KnownHostsVerifier {
    file: KnownHostsFile,
    also: Vec<KnownHostsFile>,
    policy: KnownHostsPolicy,
    ui: Arc<dyn HostKeyUi>,
    check_host_ip: bool,
    host_key_alias: Option<String>,
    /// Set by the last verification that accepted a changed key (shared
    /// by the clones, so the policy's copy reports to the caller's).
    changed_accepted: Arc<AtomicBool>,
}

impl fmt::Debug for KnownHostsVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnownHostsVerifier")
            .field("file", &self.file)
            .field("also", &self.also)
            .field("policy", &self.policy)
            .field("check_host_ip", &self.check_host_ip)
            .field("host_key_alias", &self.host_key_alias)
            .finish_non_exhaustive()
    }
}

impl KnownHostsVerifier {
    /// Checks against `file` with `policy`, asking and warning through `ui`.
    pub fn new(file: KnownHostsFile, policy: KnownHostsPolicy, ui: Arc<dyn HostKeyUi>) -> Self {
        KnownHostsVerifier {
            file,
            also: Vec::new(),
            policy,
            ui,
            check_host_ip: false,
            host_key_alias: None,
            changed_accepted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the last verification (by this verifier or a clone of it)
    /// accepted a key that differs from the recorded one, as
    /// [`KnownHostsPolicy::AcceptChanged`] does: the connection must then
    /// leave out password and keyboard-interactive authentication.
    pub fn accepted_changed_key(&self) -> bool {
        self.changed_accepted.load(Ordering::SeqCst)
    }

    /// Also checks (and records) the key under the address connected to,
    /// as ssh's `CheckHostIP yes` (off by default since OpenSSH 8.5): a
    /// known host at a new address gets its address added, and a key
    /// recorded for the address that differs is warned about. The address
    /// is the one the driver connected to (`ServerName::address`); through
    /// a proxy there is none, and only a host given as an address is
    /// checked as one.
    pub fn check_host_ip(mut self, on: bool) -> Self {
        self.check_host_ip = on;
        self
    }

    /// Looks the key up (and saves it) under `alias` instead of the host
    /// connected to, as ssh's `HostKeyAlias`; the address is then not
    /// checked (ssh does not either).
    pub fn host_key_alias(mut self, alias: Option<String>) -> Self {
        self.host_key_alias = alias;
        self
    }

    /// The key types (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa` ...)
    /// the files hold for `host` on `port` (under the alias, if set), in
    /// file order without repeats: what ssh offers first in its host key
    /// algorithms, so that a host known by one key type is asked for that
    /// one (OpenSSH sshconnect2.c `order_hostkeyalgs`).
    pub fn known_key_types(&self, host: &str, port: u16) -> Vec<String> {
        let host = self.host_key_alias.as_deref().unwrap_or(host);
        let mut types: Vec<String> = Vec::new();
        for file in std::iter::once(&self.file).chain(&self.also) {
            let Ok(entries) = file.read() else { continue };
            for entry in entries.host_keys(host, port) {
                let t = entry.key_type();
                if !types.iter().any(|k| k == t) {
                    types.push(t.to_string());
                }
            }
        }
        types
    }

    /// The files `ssh` uses by default: `~/.ssh/known_hosts` (where new
    /// keys are saved), then `~/.ssh/known_hosts2` and
    /// [`GLOBAL_KNOWN_HOSTS_FILES`], read only. Files that do not exist
    /// are empty. Fails only when `HOME` is not set.
    pub fn user_default(policy: KnownHostsPolicy, ui: Arc<dyn HostKeyUi>) -> io::Result<Self> {
        let file = KnownHostsFile::user_default().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "HOME is not set, so there is no ~/.ssh/known_hosts",
            )
        })?;
        let mut second = file.path().as_os_str().to_owned();
        second.push("2");
        let verifier = Self::new(file, policy, ui).also_read(KnownHostsFile::new(second));
        Ok(GLOBAL_KNOWN_HOSTS_FILES
            .iter()
            .fold(verifier, |v, path| v.also_read(KnownHostsFile::new(path))))
    }

    /// Strict checking against the user's and the system's known_hosts
    /// files ([`KnownHostsVerifier::user_default`] with
    /// [`KnownHostsPolicy::Strict`]), as `ssh -o StrictHostKeyChecking=yes`:
    /// a host that is not listed, or listed with another key, is refused,
    /// nothing is asked, nothing is written and nothing is printed (the
    /// connection's error says why). Fails only when `HOME` is not set.
    ///
    /// ```no_run
    /// # fn demo() -> std::io::Result<()> {
    /// let options = conch_driver::ClientOptions::new(conch_openssh::KnownHostsVerifier::strict()?);
    /// # Ok(()) }
    /// ```
    pub fn strict() -> io::Result<Self> {
        Self::user_default(KnownHostsPolicy::Strict, Arc::new(NoUi))
    }

    /// Also looks keys up in `file`, which is never written (OpenSSH's
    /// `GlobalKnownHostsFile`).
    pub fn also_read(mut self, file: KnownHostsFile) -> Self {
        self.also.push(file);
        self
    }

    /// The read-only files consulted besides [`KnownHostsVerifier::file`].
    pub fn also_reads(&self) -> &[KnownHostsFile] {
        &self.also
    }

    /// Shows `message` through the verifier's UI.
    pub(crate) fn warn(&self, message: &str) {
        self.ui.warn(message);
    }

    /// The file checked.
    pub fn file(&self) -> &KnownHostsFile {
        &self.file
    }

    /// The policy for unknown hosts.
    pub fn policy(&self) -> KnownHostsPolicy {
        self.policy
    }

    /// This verifier as the [`HostKeyPolicy`] of [`conch_driver::ClientOptions`].
    pub fn into_policy(self) -> HostKeyPolicy {
        HostKeyPolicy::from(Arc::new(self))
    }

    /// The verdict for `key` presented by `host` on `port`, connected at
    /// `ip` if known (then the address is checked and recorded too, as
    /// OpenSSH's `CheckHostIP`).
    pub fn verify_at(
        &self,
        host: &str,
        port: u16,
        ip: Option<IpAddr>,
        key: &PublicKey,
    ) -> HostKeyVerdict {
        self.changed_accepted.store(false, Ordering::SeqCst);
        if self.policy == KnownHostsPolicy::InsecureAcceptAny {
            return HostKeyVerdict::Accept;
        }
        // A host certificate: its CA first, then perhaps its plain key.
        if key.certificate().is_some() {
            return self.verify_certificate_at(host, port, ip, key, cert::unix_now());
        }
        let (known, verdict, file) = self.lookup(host, port, ip, key);
        match verdict {
            Verdict::Known { .. } => HostKeyVerdict::Accept,
            Verdict::KnownNewIp { ip, .. } => {
                if self.save(&ip.to_string(), port, key) {
                    self.ui.warn(&ip_added_warning(ip, port, key));
                }
                HostKeyVerdict::Accept
            }
            Verdict::KnownIpMismatch { line, ip_line } => {
                let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
                self.ui.warn(&ip_mismatch_warning(
                    host, port, ip, key, &file, line, ip_line,
                ));
                match self.policy {
                    KnownHostsPolicy::Strict => self.refuse(format!(
                        "the key for the IP address differs ({file}:{ip_line})"
                    )),
                    KnownHostsPolicy::Ask => {
                        let prompt = "Are you sure you want to continue connecting (yes/no)? ";
                        if self.ui.confirm(prompt, key) {
                            HostKeyVerdict::Accept
                        } else {
                            self.refuse("declined by the user".into())
                        }
                    }
                    _ => HostKeyVerdict::Accept,
                }
            }
            Verdict::Changed { line, .. } => {
                self.ui
                    .warn(&changed_key_warning(host, port, key, &file, line));
                if self.policy == KnownHostsPolicy::AcceptChanged {
                    // sshconnect.c `check_host_key`, HOST_CHANGED without
                    // strict checking: go on, but with nothing a man in
                    // the middle could read.
                    self.ui.warn(
                        "Password authentication is disabled to avoid man-in-the-middle attacks.\n\
                         Keyboard-interactive authentication is disabled to avoid man-in-the-middle attacks.\n",
                    );
                    self.changed_accepted.store(true, Ordering::SeqCst);
                    return HostKeyVerdict::Accept;
                }
                HostKeyVerdict::Changed {
                    detail: format!("offending key in {file}:{line}"),
                }
            }
            Verdict::Revoked { line } => {
                self.ui.warn(&revoked_key_warning(host, port, key));
                HostKeyVerdict::Reject {
                    reason: format!("the key is revoked in {file}:{line}"),
                }
            }
            Verdict::Unknown => self.unknown(&known, host, port, ip, key),
        }
    }

    /// Reads every file and combines their verdicts (see the type's docs);
    /// returns the files' entries, the verdict and the file it came from.
    fn lookup(
        &self,
        host: &str,
        port: u16,
        ip: Option<IpAddr>,
        key: &PublicKey,
    ) -> (Vec<KnownHosts>, Verdict, String) {
        let mut known = Vec::new();
        let mut best: Option<(u8, Verdict, String)> = None;
        for file in std::iter::once(&self.file).chain(&self.also) {
            let entries = match file.read() {
                Ok(entries) => entries,
                // OpenSSH goes on as if an unreadable file were empty; say so.
                Err(e) => {
                    self.ui.warn(&format!(
                        "Warning: cannot read known hosts file {file}: {e}\n"
                    ));
                    KnownHosts::new()
                }
            };
            let verdict = entries.check(host, port, ip, key);
            let rank = verdict_rank(&verdict);
            if best.as_ref().is_none_or(|(r, ..)| rank < *r) {
                best = Some((rank, verdict, file.to_string()));
            }
            known.push(entries);
        }
        let (_, verdict, file) = best.unwrap_or((u8::MAX, Verdict::Unknown, self.file.to_string()));
        (known, verdict, file)
    }

    fn unknown(
        &self,
        known: &[KnownHosts],
        host: &str,
        port: u16,
        ip: Option<IpAddr>,
        key: &PublicKey,
    ) -> HostKeyVerdict {
        let accepted = match self.policy {
            KnownHostsPolicy::Strict => {
                self.ui.warn(&format!(
                    "No {} host key is known for {} and you have requested strict checking.\n",
                    key_type_label(key),
                    host_name(host, port)
                ));
                return self.refuse(format!(
                    "no host key is known for {} in {}",
                    host_name(host, port),
                    self.file
                ));
            }
            KnownHostsPolicy::AcceptNew
            | KnownHostsPolicy::AcceptChanged
            | KnownHostsPolicy::InsecureAcceptAny => true,
            KnownHostsPolicy::Ask => {
                let other_types_known = known.iter().any(|k| !k.host_keys(host, port).is_empty());
                let prompt = unknown_host_prompt(host, port, ip, key, other_types_known);
                self.ui.confirm(&prompt, key)
            }
        };
        if !accepted {
            return self.refuse("declined by the user".into());
        }
        if self.save(host, port, key) {
            self.ui.warn(&host_added_warning(host, port, key));
        }
        HostKeyVerdict::Accept
    }

    /// Appends the entry; a failure is a warning, not a refusal (OpenSSH).
    fn save(&self, host: &str, port: u16, key: &PublicKey) -> bool {
        match self.file.add(host, port, key) {
            Ok(added) => added,
            Err(e) => {
                self.ui.warn(&format!(
                    "Failed to add the host to the list of known hosts ({}): {e}\n",
                    self.file
                ));
                false
            }
        }
    }

    fn refuse(&self, reason: String) -> HostKeyVerdict {
        self.ui.warn("Host key verification failed.\n");
        HostKeyVerdict::Reject { reason }
    }
}

/// Which verdict wins when files disagree (lower wins): a revocation
/// anywhere, then the key listed anywhere, then another key listed.
fn verdict_rank(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::Revoked { .. } => 0,
        Verdict::Known { .. } => 1,
        Verdict::KnownIpMismatch { .. } => 2,
        Verdict::KnownNewIp { .. } => 3,
        Verdict::Changed { .. } => 4,
        _ => 5,
    }
}

/// The verifier as a [`HostKeyPolicy`], so that
/// `ClientOptions::new(KnownHostsVerifier::strict()?)` reads as it should.
impl From<KnownHostsVerifier> for HostKeyPolicy {
    fn from(verifier: KnownHostsVerifier) -> Self {
        verifier.into_policy()
    }
}

impl HostKeyVerifier for KnownHostsVerifier {
    fn verify(&self, server: &ServerName, key: &PublicKey) -> HostKeyVerdict {
        if let Some(alias) = &self.host_key_alias {
            return self.verify_at(alias, server.port, None, key);
        }
        // The name is looked up as given; a literal address is its own
        // name, and with CheckHostIP the address connected to is checked
        // too.
        let literal = server.host.parse::<IpAddr>().ok();
        let ip = match (self.check_host_ip, literal) {
            (_, Some(ip)) => Some(ip),
            (true, None) => server.address,
            (false, None) => None,
        };
        self.verify_at(&server.host, server.port, ip, key)
    }
}

mod cert;

#[cfg(test)]
mod tests;
