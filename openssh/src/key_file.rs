//! Key files as `ssh-keygen` writes them: private keys (`openssh-key-v1`,
//! encrypted ones decrypted with a passphrase asked through a callback),
//! public keys (`.pub`), and the default identity files `ssh` tries.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use conch_core::{KeyError, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use conch_driver::{SignFuture, Signer};

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
    /// The key is of a type, or the file of a format, Conch cannot use
    /// (DSA, PuTTY `.ppk`, PEM with OpenSSL's legacy encryption ...).
    #[error("{}: unsupported: {algorithm}", path.display())]
    Unsupported {
        /// The key type or format, and how to convert it where there is a way.
        algorithm: String,
        /// The file.
        path: PathBuf,
    },
    /// The encrypted key asks for more bcrypt-pbkdf rounds than
    /// [`conch_core::keys::MAX_KDF_ROUNDS`] (`ssh-keygen -a`); refused
    /// before any are run and before a passphrase is asked.
    #[error("{}: the key's passphrase KDF asks for {rounds} bcrypt-pbkdf rounds; at most {max} are accepted (ssh-keygen -a; OpenSSH's default is 16)", path.display())]
    TooManyKdfRounds {
        /// The file.
        path: PathBuf,
        /// The rounds the file asks for.
        rounds: u32,
        /// The most accepted.
        max: u32,
    },
    /// The file is not a key in a format Conch reads (OpenSSH, PEM PKCS#1
    /// or SEC1, PKCS#8), or is damaged.
    #[error("{} is not a private key Conch can read: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
}

/// As an I/O error: the program's `?` on a key file then works where an
/// `io::Error` does.
impl From<KeyFileError> for io::Error {
    fn from(e: KeyFileError) -> Self {
        let kind = match &e {
            KeyFileError::Io { source, .. } => source.kind(),
            KeyFileError::PassphraseNeeded { .. } | KeyFileError::WrongPassphrase { .. } => {
                io::ErrorKind::PermissionDenied
            }
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// As the adapters' error ([`conch_driver::Error::Io`]), so that `?` on a
/// key file works in a function returning `conch_tokio::Error` (or smol's,
/// or blocking's).
impl From<KeyFileError> for conch_driver::Error {
    fn from(e: KeyFileError) -> Self {
        conch_driver::Error::from(io::Error::from(e))
    }
}

impl KeyFileError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            KeyFileError::Io { path, .. }
            | KeyFileError::PassphraseNeeded { path }
            | KeyFileError::WrongPassphrase { path }
            | KeyFileError::Unsupported { path, .. }
            | KeyFileError::TooManyKdfRounds { path, .. }
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
            KeyError::TooManyKdfRounds { rounds, max } => {
                KeyFileError::TooManyKdfRounds { path, rounds, max }
            }
            other => KeyFileError::Invalid {
                path,
                reason: other.to_string(),
            },
        }
    }
}

/// Loads an unencrypted OpenSSH private key file (what `ssh-keygen -N ''`
/// writes). An encrypted one is refused with
/// [`KeyFileError::PassphraseNeeded`]: load it with [`load_private_key`]
/// and a passphrase callback, or use a [`KeyFileSigner`].
///
/// ```no_run
/// # fn demo() -> Result<(), conch_openssh::KeyFileError> {
/// let methods = conch_driver::AuthMethods::new().key(conch_openssh::load_key("/home/alice/.ssh/id_ed25519")?);
/// # Ok(()) }
/// ```
pub fn load_key(path: impl AsRef<Path>) -> Result<PrivateKey, KeyFileError> {
    load_private_key(path.as_ref(), &mut |_| None)
}

/// Loads an OpenSSH private key file. If it is encrypted, `passphrase` is
/// called with the path (up to [`PASSPHRASE_ATTEMPTS`] times while the
/// answer is wrong); answering `None` or an empty passphrase gives up, as
/// `ssh` does on an empty line.
///
/// The file's text and each passphrase are zeroized once used (an
/// unencrypted key file is the key in clear).
pub fn load_private_key(
    path: &Path,
    passphrase: &mut dyn FnMut(&Path) -> Option<String>,
) -> Result<PrivateKey, KeyFileError> {
    let text = read(path)?;
    match PrivateKey::from_text(&text, None) {
        Err(KeyError::Encrypted) => {}
        other => return other.map_err(|e| KeyFileError::from_key(path, e)),
    }
    let mut last = KeyFileError::PassphraseNeeded {
        path: path.to_path_buf(),
    };
    for _ in 0..PASSPHRASE_ATTEMPTS {
        let Some(pass) = passphrase(path).map(Zeroizing::new) else {
            return Err(last);
        };
        if pass.is_empty() {
            return Err(last);
        }
        match PrivateKey::from_text(&text, Some(pass.as_bytes())) {
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

/// Asks for the passphrase of the key file at the path given (`None`: give up).
pub type PassphraseFn = dyn Fn(&Path) -> Option<String> + Send + Sync;

/// A private key file used as a [`Signer`] the way `ssh` uses identity
/// files: an encrypted key whose public half is at hand (`PATH.pub`) is
/// offered to the server first, and its passphrase is asked only when the
/// server accepts it and a signature is needed.
///
/// The passphrase callback then runs inside the signing future, in the
/// task that authenticates; it may block there while the user types.
pub struct KeyFileSigner {
    path: PathBuf,
    public: PublicKey,
    passphrase: Arc<PassphraseFn>,
    /// The decrypted key, or why it could not be had (asked only once).
    loaded: Mutex<Option<Result<PrivateKey, KeyFileError>>>,
}

impl fmt::Debug for KeyFileSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFileSigner")
            .field("path", &self.path)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl KeyFileSigner {
    /// Opens the key file at `path`. An unencrypted key is loaded now. An
    /// encrypted one with a readable `PATH.pub` is decrypted only when
    /// first used to sign; without `PATH.pub` it is decrypted now, asking
    /// `passphrase` (see [`load_private_key`]).
    pub fn open(path: &Path, passphrase: Arc<PassphraseFn>) -> Result<Self, KeyFileError> {
        let text = read(path)?;
        let key = match PrivateKey::from_text(&text, None) {
            Ok(key) => Some(key),
            Err(KeyError::Encrypted) => None,
            Err(e) => return Err(KeyFileError::from_key(path, e)),
        };
        let (public, loaded) = match key {
            Some(key) => (key.public_key().clone(), Some(Ok(key))),
            None => match load_public_key(&public_path(path)) {
                Ok(public) => (public, None),
                Err(_) => {
                    let key = load_private_key(path, &mut |p| passphrase(p))?;
                    (key.public_key().clone(), Some(Ok(key)))
                }
            },
        };
        Ok(KeyFileSigner {
            path: path.to_path_buf(),
            public,
            passphrase,
            loaded: Mutex::new(loaded),
        })
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the private key has been decrypted (or found unusable).
    pub fn is_loaded(&self) -> bool {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn key(&self) -> Result<PrivateKey, KeyFileError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded
            .get_or_insert_with(|| {
                let key = load_private_key(&self.path, &mut |p| (self.passphrase)(p))?;
                // A `.pub` that does not match its private key must not
                // make us sign for another key.
                if key.public_key() != &self.public {
                    return Err(KeyFileError::Invalid {
                        path: self.path.clone(),
                        reason: "the key does not match its .pub file".into(),
                    });
                }
                Ok(key)
            })
            .clone()
    }
}

impl Signer for KeyFileSigner {
    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    fn sign<'a>(&'a self, algorithm: &'a str, data: &'a [u8]) -> SignFuture<'a> {
        Box::pin(async move {
            let key = self.key().map_err(|e| match e {
                KeyFileError::WrongPassphrase { .. } => KeyError::WrongPassphrase,
                KeyFileError::PassphraseNeeded { .. } => KeyError::Encrypted,
                other => KeyError::Encoding(other.to_string()),
            })?;
            key.sign(algorithm, data)
        })
    }
}

/// `PATH.pub`.
fn public_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Loads a public key: a `.pub` file (one `type base64 [comment]` line,
/// or a certificate's), an authorized_keys line with options
/// (`from="..." ssh-ed25519 AAAA...`), or an RFC 4716 file (`---- BEGIN
/// SSH2 PUBLIC KEY ----`, what `ssh-keygen -e` writes).
pub fn load_public_key(path: &Path) -> Result<PublicKey, KeyFileError> {
    let text = read(path)?;
    let text = String::from_utf8_lossy(&text);
    let text = text.trim();
    if text.starts_with("---- BEGIN SSH2 PUBLIC KEY") {
        return PublicKey::from_rfc4716(text).map_err(|e| KeyFileError::from_key(path, e));
    }
    PublicKey::from_openssh(text).or_else(|e| {
        // A line with options, as in authorized_keys.
        crate::AuthorizedKeys::parse(text)
            .keys()
            .first()
            .map(|entry| entry.key().clone())
            .ok_or_else(|| KeyFileError::from_key(path, e))
    })
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

/// Reads a whole file. A private key file may hold the key in clear: the
/// buffer is read at the file's size (no reallocation leaves a copy of the
/// start behind unless the file grows meanwhile) and zeroized on drop.
fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| KeyFileError::Io {
            path: path.to_path_buf(),
            source: Arc::new(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use conch_core::keys::MAX_KDF_ROUNDS;

    /// An RSA key `ssh-keygen -p -N "conch test"` encrypted, its bcrypt
    /// round count patched to one over the cap (core's key tests check it is
    /// exactly that).
    const TOO_MANY_ROUNDS: &str =
        include_str!("../../core/src/keys/testdata/rsa2048_encrypted_10001_rounds");

    /// `core/src/keys/testdata`: an RSA key in clear, and the same encrypted
    /// with the passphrase "conch test" (see the README there).
    const RSA_CLEAR: &str = include_str!("../../core/src/keys/testdata/rsa2048");
    const RSA_ENCRYPTED: &str = include_str!("../../core/src/keys/testdata/rsa2048_encrypted");

    #[test]
    fn load_key_needs_no_passphrase_source_and_refuses_an_encrypted_key_clearly() {
        let dir = std::env::temp_dir().join(format!("conch-load-key-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (clear, encrypted) = (dir.join("id_clear"), dir.join("id_encrypted"));
        fs::write(&clear, RSA_CLEAR).unwrap();
        fs::write(&encrypted, RSA_ENCRYPTED).unwrap();
        let loaded = load_key(&clear);
        let refused = load_key(&encrypted);
        let decrypted = load_private_key(&encrypted, &mut |_| Some("conch test".into()));
        let _ = fs::remove_dir_all(&dir);
        let key = loaded.unwrap();
        assert_eq!(key.public_key(), decrypted.unwrap().public_key());
        let e = refused.unwrap_err();
        assert!(
            matches!(&e, KeyFileError::PassphraseNeeded { path } if path == &encrypted),
            "{e:?}"
        );
        let message = format!(
            "{} is encrypted and no passphrase was given",
            encrypted.display()
        );
        assert_eq!(e.to_string(), message);
        // `?` in a program returning the adapters' error keeps the message.
        let as_driver = conch_driver::Error::from(e);
        assert!(as_driver.to_string().contains(&message), "{as_driver}");
    }

    #[test]
    fn a_key_file_asking_for_too_many_kdf_rounds_is_refused_without_asking() {
        let path =
            std::env::temp_dir().join(format!("conch-key-file-rounds-{}", std::process::id()));
        fs::write(&path, TOO_MANY_ROUNDS).unwrap();
        let mut asked = 0;
        let loaded = load_private_key(&path, &mut |_| {
            asked += 1;
            Some("conch test".into())
        });
        let opened = KeyFileSigner::open(&path, Arc::new(|_: &Path| Some("conch test".into())));
        let _ = fs::remove_file(&path);
        let e = loaded.unwrap_err();
        assert_eq!(asked, 0, "no passphrase should be asked for");
        match &e {
            KeyFileError::TooManyKdfRounds {
                path: p,
                rounds,
                max,
            } => {
                assert_eq!(
                    (p, *rounds, *max),
                    (&path, MAX_KDF_ROUNDS + 1, MAX_KDF_ROUNDS)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("10001 bcrypt-pbkdf rounds"), "{e}");
        assert!(matches!(
            opened.unwrap_err(),
            KeyFileError::TooManyKdfRounds { .. }
        ));
    }
}
