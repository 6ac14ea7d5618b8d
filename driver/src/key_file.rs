//! Key files as `ssh-keygen` writes them: private keys (`openssh-key-v1`,
//! encrypted ones decrypted with a passphrase asked through a callback),
//! public keys (`.pub`), and the default identity files `ssh` tries.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use conch_core::{KeyError, PrivateKey, PublicKey};

/// How many times a passphrase is asked before giving up (OpenSSH's
/// `NumberOfPasswordPrompts`).
pub const PASSPHRASE_ATTEMPTS: usize = 3;

/// The identity files `ssh` tries in `~/.ssh` when none is given, in its
/// order. Key types Conch cannot use yet are reported as
/// [`KeyFileError::Unsupported`] and best skipped.
pub const DEFAULT_IDENTITY_FILES: &[&str] = &[
    "id_rsa",
    "id_ecdsa",
    "id_ecdsa_sk",
    "id_ed25519",
    "id_ed25519_sk",
];

/// A key file that could not be used.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Arc<io::Error>,
    },
    /// The key is encrypted and no passphrase was given.
    #[error("{} is encrypted and no passphrase was given", path.display())]
    PassphraseNeeded {
        /// The file.
        path: PathBuf,
    },
    /// Every passphrase given was wrong.
    #[error("incorrect passphrase for {}", path.display())]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The key is of a type Conch cannot use.
    #[error("{}: unsupported key type {algorithm}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The key type.
        algorithm: String,
    },
    /// The file is not a key in a format Conch reads (PEM "BEGIN RSA PRIVATE
    /// KEY" and PuTTY files are not; `ssh-keygen -p -f FILE` converts them).
    #[error("{} is not an OpenSSH key: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
}

impl KeyFileError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            KeyFileError::Io { path, .. }
            | KeyFileError::PassphraseNeeded { path }
            | KeyFileError::WrongPassphrase { path }
            | KeyFileError::Unsupported { path, .. }
            | KeyFileError::Invalid { path, .. } => path,
        }
    }

    /// Whether the file does not exist (e.g. a default identity not made).
    pub fn is_not_found(&self) -> bool {
        matches!(self, KeyFileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    fn from_key(path: &Path, e: KeyError) -> Self {
        let path = path.to_path_buf();
        match e {
            KeyError::Encrypted => KeyFileError::PassphraseNeeded { path },
            KeyError::WrongPassphrase => KeyFileError::WrongPassphrase { path },
            KeyError::Unsupported(algorithm) => KeyFileError::Unsupported { path, algorithm },
            other => KeyFileError::Invalid {
                path,
                reason: other.to_string(),
            },
        }
    }
}

/// Loads an OpenSSH private key file. If it is encrypted, `passphrase` is
/// called with the path (up to [`PASSPHRASE_ATTEMPTS`] times while the
/// answer is wrong); answering `None` or an empty passphrase gives up, as
/// `ssh` does on an empty line.
pub fn load_private_key(
    path: &Path,
    passphrase: &mut dyn FnMut(&Path) -> Option<String>,
) -> Result<PrivateKey, KeyFileError> {
    let text = read(path)?;
    match PrivateKey::from_openssh(&text, None) {
        Err(KeyError::Encrypted) => {}
        other => return other.map_err(|e| KeyFileError::from_key(path, e)),
    }
    let mut last = KeyFileError::PassphraseNeeded {
        path: path.to_path_buf(),
    };
    for _ in 0..PASSPHRASE_ATTEMPTS {
        let Some(pass) = passphrase(path).filter(|p| !p.is_empty()) else {
            return Err(last);
        };
        match PrivateKey::from_openssh(&text, Some(pass.as_bytes())) {
            Ok(key) => return Ok(key),
            Err(KeyError::WrongPassphrase) => {
                last = KeyFileError::WrongPassphrase {
                    path: path.to_path_buf(),
                }
            }
            Err(e) => return Err(KeyFileError::from_key(path, e)),
        }
    }
    Err(last)
}

/// Loads a public key: a `.pub` file (one `type base64 [comment]` line).
pub fn load_public_key(path: &Path) -> Result<PublicKey, KeyFileError> {
    let text = read(path)?;
    let text = String::from_utf8_lossy(&text);
    PublicKey::from_openssh(text.trim()).map_err(|e| KeyFileError::from_key(path, e))
}

/// The default identity files under `~/.ssh` that exist, in `ssh`'s order
/// (none when `HOME` is not set).
pub fn default_identity_files() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return Vec::new();
    };
    let dir = PathBuf::from(home).join(".ssh");
    DEFAULT_IDENTITY_FILES
        .iter()
        .map(|name| dir.join(name))
        .filter(|p| p.is_file())
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    fs::read(path).map_err(|e| KeyFileError::Io {
        path: path.to_path_buf(),
        source: Arc::new(e),
    })
}
