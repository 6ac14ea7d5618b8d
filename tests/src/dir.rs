//! A temporary directory per peer or test, removed when dropped.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Set this environment variable to keep every [`TestDir`] after the test
/// (its path is printed), to read configs and logs by hand.
pub const KEEP_DIRS_ENV: &str = "CONCH_INTEROP_KEEP_DIRS";

/// A fresh directory under the system temp dir, removed on drop unless
/// [`KEEP_DIRS_ENV`] is set.
#[derive(Debug)]
pub struct TestDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TestDir {
    /// Creates a directory named `conch-interop-<label>-XXXXXX`, readable
    /// (not writable) by every user: a server that reads files as the login
    /// user (sshd reads `AuthorizedKeysFile` as the user) must see them.
    /// Private keys inside are still `0600`, as `ssh-keygen` writes them.
    #[track_caller]
    pub fn new(label: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("conch-interop-{label}-"))
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temp dir: {err}"));
        let path = dir.path().to_path_buf();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|err| panic!("chmod {}: {err}", path.display()));
        TestDir {
            dir: Some(dir),
            path,
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `contents` to `name` inside the directory (mode `0644`) and
    /// returns its path.
    #[track_caller]
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        fs::write(&path, contents).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|err| panic!("chmod {}: {err}", path.display()));
        path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_DIRS_ENV).is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("conch-interop: kept {}", dir.keep().display());
            }
        }
    }
}

/// The last `lines` lines of the file at `path` (or a note saying why there
/// are none), for failure messages.
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(err) => format!("({}: {err})", path.display()),
    }
}
