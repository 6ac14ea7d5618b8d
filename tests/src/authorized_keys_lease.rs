//! Temporary lines in the test user's real `~/.ssh/authorized_keys`.
//!
//! dropbear (2022.x) has no option for an authorized_keys path: it reads
//! `~/.ssh/authorized_keys` of the login user. The tests therefore add their
//! keys to [`crate::TEST_USER`]'s file for as long as their server runs.
//! Tests run in parallel threads and processes, so every change takes a lock,
//! rewrites the whole file and renames it into place (a dropbear reading
//! meanwhile sees the old or the new file, never half of one). Each line is
//! tagged with the process id; lines of processes that no longer exist are
//! dropped, so a crashed run leaves nothing behind for long.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, SystemTime};

use crate::user::TestUser;

/// Marks lines this harness added: `<key> conch-interop-lease:<pid>:<n>`.
const TAG_PREFIX: &str = "conch-interop-lease:";

/// Longest wait for the lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(20);

/// A lock older than this belongs to a dead process (it is held for
/// milliseconds).
const STALE_LOCK: Duration = Duration::from_secs(30);

/// Keys present in the user's authorized_keys until dropped.
#[derive(Debug)]
pub struct AuthorizedKeysLease {
    path: PathBuf,
    user: TestUser,
    tag: String,
}

impl AuthorizedKeysLease {
    /// Adds `public_keys` (`<type> <base64>` each) to `user`'s
    /// authorized_keys.
    #[track_caller]
    pub fn new(user: &TestUser, public_keys: &[String]) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let tag = format!(
            "{TAG_PREFIX}{}:{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let lease = AuthorizedKeysLease {
            path: user.home.join(".ssh").join("authorized_keys"),
            user: user.clone(),
            tag,
        };
        let added: Vec<String> = public_keys
            .iter()
            .map(|key| format!("{key} {}", lease.tag))
            .collect();
        if let Err(err) = lease.rewrite(|lines| lines.extend(added)) {
            panic!("{err}");
        }
        lease
    }

    /// Reads, changes and atomically replaces the file under the lock.
    fn rewrite(&self, change: impl FnOnce(&mut Vec<String>)) -> Result<(), String> {
        let ssh_dir = self.path.parent().unwrap_or(Path::new("/"));
        if !ssh_dir.is_dir() {
            return Err(format!(
                "{} is missing: run `bash .ci/run --setup-only` as root",
                ssh_dir.display()
            ));
        }
        let _lock =
            DirLock::acquire(&std::env::temp_dir().join("conch-interop-authorized-keys.lock"))?;
        let current = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => {
                return Err(format!(
                    "cannot read {} (dropbear tests must run as root, as .ci/run does): {err}",
                    self.path.display()
                ))
            }
        };
        let mut lines: Vec<String> = current
            .lines()
            .filter(|line| !is_stale(line))
            .map(str::to_owned)
            .collect();
        change(&mut lines);
        let mut text = lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        let temporary = ssh_dir.join(format!(".authorized_keys.conch-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            fs::write(&temporary, &text)?;
            // dropbear checks like sshd's StrictModes: owned by the user (or
            // root), not writable by group or others.
            fs::set_permissions(&temporary, fs::Permissions::from_mode(0o600))?;
            std::os::unix::fs::chown(&temporary, Some(self.user.uid), Some(self.user.gid))?;
            fs::rename(&temporary, &self.path)
        };
        write().map_err(|err| {
            let _ = fs::remove_file(&temporary);
            format!(
                "cannot update {} (dropbear tests must run as root, as .ci/run does): {err}",
                self.path.display()
            )
        })
    }
}

impl Drop for AuthorizedKeysLease {
    fn drop(&mut self) {
        let suffix = format!(" {}", self.tag);
        if let Err(err) = self.rewrite(|lines| lines.retain(|line| !line.ends_with(&suffix))) {
            eprintln!("conch-interop: could not remove {}: {err}", self.tag);
        }
    }
}

/// Whether `line` was added by a process that no longer runs.
fn is_stale(line: &str) -> bool {
    let Some(tag) = line.split_whitespace().last() else {
        return false;
    };
    let Some(rest) = tag.strip_prefix(TAG_PREFIX) else {
        return false;
    };
    let pid = rest.split(':').next().unwrap_or("");
    !pid.is_empty() && !Path::new("/proc").join(pid).exists()
}

/// A lock held by creating a directory (atomic on every filesystem),
/// removed on drop.
struct DirLock {
    path: PathBuf,
}

impl DirLock {
    fn acquire(path: &Path) -> Result<Self, String> {
        let started = SystemTime::now();
        loop {
            match fs::create_dir(path) {
                Ok(()) => {
                    return Ok(DirLock {
                        path: path.to_path_buf(),
                    })
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = fs::metadata(path)
                        .and_then(|meta| meta.modified())
                        .ok()
                        .and_then(|modified| modified.elapsed().ok());
                    if age.is_some_and(|age| age > STALE_LOCK) {
                        let _ = fs::remove_dir(path);
                        continue;
                    }
                }
                Err(err) => return Err(format!("cannot create lock {}: {err}", path.display())),
            }
            if started.elapsed().unwrap_or_default() > LOCK_TIMEOUT {
                return Err(format!(
                    "lock {} held for over {LOCK_TIMEOUT:?}",
                    path.display()
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.path);
    }
}
