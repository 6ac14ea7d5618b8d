//! An SFTP client (version 3 with OpenSSH's extensions, see `conch-sftp`)
//! over a session channel running the `sftp` subsystem, written once for
//! every adapter: [`Sftp`] for file system calls, [`File`] as a
//! `futures-io` stream with seeking, [`ReadDir`] as a stream of entries,
//! and whole-file and tree transfers with many requests in flight
//! ([`Sftp::download`], [`Sftp::upload`], [`Sftp::download_tree`],
//! [`Sftp::upload_tree`]). The server side, [`serve`] and [`RootFs`],
//! answers the subsystem over a directory.
//!
//! ```no_run
//! # async fn demo(session: conch_driver::Session) -> Result<(), conch_driver::sftp::SftpError> {
//! use conch_driver::sftp::TransferOptions;
//! let sftp = session.sftp().await?;
//! for entry in sftp.list_dir(".").await? {
//!     println!("{}", entry.longname);
//! }
//! let stats = sftp
//!     .download("big.iso", "/tmp/big.iso".as_ref(), &TransferOptions::default(), None)
//!     .await?;
//! println!("{} bytes", stats.bytes);
//! # Ok(()) }
//! ```

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use conch_sftp::client::{Reply, ServerInfo};
use conch_sftp::ext;
use conch_sftp::packet::Request;

#[cfg(unix)]
mod beneath;
mod dir;
mod engine;
mod file;
#[cfg(unix)]
mod local_fs;
mod serve;
mod transfer;
mod tree;

pub use conch_sftp;
pub use conch_sftp::ext::{Limits, StatVfs};
pub use conch_sftp::names::UnsafeName;
pub use conch_sftp::{FileAttributes, FileType, OpenFlags, ProtocolError, StatusCode, StatusError};
pub use dir::{DirEntry, ReadDir};
pub use file::File;
#[cfg(unix)]
pub use local_fs::RootFs;
pub use serve::{serve, serve_blocking};
pub use transfer::{Progress, ProgressFn, TransferOptions, TransferStats};
pub use tree::{Skipped, TreeStats};

use crate::session::Session;
use engine::Engine;

/// What can go wrong in an SFTP session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SftpError {
    /// The server refused the request: its status code (no such file,
    /// permission denied, failure, ...) and message.
    #[error("{0}")]
    Status(#[from] StatusError),
    /// The server broke the SFTP protocol; the session is over.
    #[error("SFTP protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// Opening the channel or starting the subsystem failed.
    #[error(transparent)]
    Session(#[from] crate::Error),
    /// The channel failed under the session.
    #[error("SFTP channel: {0}")]
    Channel(io::Error),
    /// The server closed the channel.
    #[error("SFTP session closed by the server")]
    Closed,
    /// The server does not offer an operation (an extension it did not
    /// announce).
    #[error("the server does not support {0}")]
    Unsupported(&'static str),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Local {
        /// The local path.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A path that is not what the operation needs (a directory given to a
    /// file download, a tree deeper or wider than the options allow ...).
    #[error("{0}")]
    Invalid(String),
}

impl SftpError {
    /// The server's status code, when the server refused the request.
    pub fn status_code(&self) -> Option<StatusCode> {
        match self {
            SftpError::Status(e) => Some(e.code),
            _ => None,
        }
    }

    fn local(path: &std::path::Path, source: io::Error) -> Self {
        SftpError::Local {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<SftpError> for io::Error {
    fn from(e: SftpError) -> Self {
        let kind = match &e {
            SftpError::Status(s) => s.io_kind(),
            SftpError::Local { source, .. } => source.kind(),
            SftpError::Channel(c) => c.kind(),
            SftpError::Closed => io::ErrorKind::ConnectionAborted,
            SftpError::Unsupported(_) => io::ErrorKind::Unsupported,
            SftpError::Protocol(_) => io::ErrorKind::InvalidData,
            SftpError::Invalid(_) => io::ErrorKind::InvalidInput,
            SftpError::Session(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Shorthand for SFTP results.
pub type Result<T, E = SftpError> = std::result::Result<T, E>;

/// An SFTP session: cheap to clone, usable from many tasks at once (each
/// call is a request of its own; replies are matched by id). The session
/// ends when the last clone and the last [`File`] go.
#[derive(Debug, Clone)]
pub struct Sftp {
    engine: Arc<Engine>,
    info: Arc<ServerInfo>,
    limits: Limits,
}

/// Read and write sizes when the server states no limits: 32 KiB, what
/// every version 3 server must accept (draft section 3, OpenSSH's sftp
/// default).
const DEFAULT_IO_LEN: u64 = 32 * 1024;

impl Session {
    /// Opens a session channel, starts the `sftp` subsystem on it and runs
    /// the version exchange (and asks the server's limits when it offers
    /// `limits@openssh.com`).
    pub async fn sftp(&self) -> Result<Sftp> {
        let channel = self.open_session().await?;
        channel.subsystem("sftp").await?;
        Sftp::start(channel).await
    }
}

impl Sftp {
    /// Runs SFTP over a channel where the `sftp` subsystem (or an
    /// `sftp-server` command) is already running.
    pub async fn start(channel: crate::Channel) -> Result<Sftp> {
        // The server's stderr (an sftp-server command's messages) is not
        // part of the protocol: dropped, so it cannot stall the channel.
        channel.discard_stderr();
        let engine = Engine::new(channel);
        let info = engine.ready().await?;
        let mut limits = Limits {
            max_packet_length: u64::from(conch_sftp::packet::MAX_PACKET_LEN),
            max_read_length: DEFAULT_IO_LEN,
            max_write_length: DEFAULT_IO_LEN,
            max_open_handles: 0,
        };
        if info.supports(ext::LIMITS) {
            if let Reply::Limits(l) = engine.call(&Request::Limits).await? {
                // A reply must fit in our packet limit: cap what the
                // server allows by what we accept (the header is < 1 KiB).
                let cap = u64::from(conch_sftp::server::MAX_READ_LEN);
                if l.max_read_length > 0 {
                    limits.max_read_length = l.max_read_length.min(cap);
                }
                if l.max_write_length > 0 {
                    limits.max_write_length = l.max_write_length.min(cap);
                }
                limits.max_open_handles = l.max_open_handles;
            }
        }
        Ok(Sftp {
            engine,
            info: Arc::new(info),
            limits,
        })
    }

    /// The server's version and extensions.
    pub fn server_info(&self) -> &ServerInfo {
        &self.info
    }

    /// Whether the server offers extension `name` (see [`conch_sftp::ext`]).
    pub fn supports(&self, name: &str) -> bool {
        self.info.supports(name)
    }

    /// The read and write sizes in use (from `limits@openssh.com`, or 32 KiB).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    async fn status(&self, request: Request) -> Result<()> {
        match self.engine.call(&request).await? {
            Reply::Ok => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn attrs(&self, request: Request) -> Result<FileAttributes> {
        match self.engine.call(&request).await? {
            Reply::Attrs(a) => Ok(a),
            other => Err(unexpected(other)),
        }
    }

    async fn one_name(&self, request: Request) -> Result<String> {
        match self.engine.call(&request).await? {
            Reply::Name(mut names) if names.len() == 1 => {
                let n = names.remove(0);
                String::from_utf8(n.filename)
                    .map_err(|_| SftpError::Invalid("server sent a name that is not UTF-8".into()))
            }
            other => Err(unexpected(other)),
        }
    }

    /// Attributes of `path`, following symlinks (SSH_FXP_STAT).
    pub async fn stat(&self, path: &str) -> Result<FileAttributes> {
        self.attrs(Request::Stat { path: path.into() }).await
    }

    /// Attributes of `path` itself (SSH_FXP_LSTAT).
    pub async fn lstat(&self, path: &str) -> Result<FileAttributes> {
        self.attrs(Request::Lstat { path: path.into() }).await
    }

    /// Sets attributes of `path` (SSH_FXP_SETSTAT): mode, times, size, owner.
    pub async fn setstat(&self, path: &str, attrs: FileAttributes) -> Result<()> {
        self.status(Request::Setstat {
            path: path.into(),
            attrs,
        })
        .await
    }

    /// Sets attributes of `path` itself, not following a final symlink
    /// (`lsetstat@openssh.com`).
    pub async fn lsetstat(&self, path: &str, attrs: FileAttributes) -> Result<()> {
        self.need(ext::LSETSTAT)?;
        self.status(Request::Lsetstat {
            path: path.into(),
            attrs,
        })
        .await
    }

    /// Changes the permission bits of `path` (sftp's `chmod`).
    pub async fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        self.setstat(path, FileAttributes::with_permissions(mode & 0o7777))
            .await
    }

    /// Creates directory `path` with `mode` (before the server's umask).
    pub async fn mkdir(&self, path: &str, mode: u32) -> Result<()> {
        self.status(Request::Mkdir {
            path: path.into(),
            attrs: FileAttributes::with_permissions(mode),
        })
        .await
    }

    /// Removes the empty directory `path`.
    pub async fn rmdir(&self, path: &str) -> Result<()> {
        self.status(Request::Rmdir { path: path.into() }).await
    }

    /// Removes the file `path`.
    pub async fn remove(&self, path: &str) -> Result<()> {
        self.status(Request::Remove { path: path.into() }).await
    }

    /// Renames `from` to `to`, replacing `to` if it exists when the server
    /// offers `posix-rename@openssh.com` (otherwise version 3's RENAME,
    /// which fails if `to` exists).
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (from, to) = (from.into(), to.into());
        if self.supports(ext::POSIX_RENAME) {
            self.status(Request::PosixRename { from, to }).await
        } else {
            self.status(Request::Rename { from, to }).await
        }
    }

    /// Creates the symlink `link` pointing at `target`.
    pub async fn symlink(&self, target: &str, link: &str) -> Result<()> {
        self.status(Request::Symlink {
            target: target.into(),
            link: link.into(),
        })
        .await
    }

    /// What the symlink `path` points to.
    pub async fn readlink(&self, path: &str) -> Result<String> {
        self.one_name(Request::Readlink { path: path.into() }).await
    }

    /// The canonical absolute path of `path` (SSH_FXP_REALPATH; `.` is the
    /// session's starting directory).
    pub async fn realpath(&self, path: &str) -> Result<String> {
        self.one_name(Request::Realpath { path: path.into() }).await
    }

    /// `realpath` with a leading `~` or `~user` expanded
    /// (`expand-path@openssh.com`; plain realpath when not offered).
    pub async fn expand_path(&self, path: &str) -> Result<String> {
        if self.supports(ext::EXPAND_PATH) {
            self.one_name(Request::ExpandPath { path: path.into() })
                .await
        } else {
            self.realpath(path).await
        }
    }

    /// A user's home directory (`home-directory`). OpenSSH's server needs
    /// a user name; conch's also takes an empty one for the session's user.
    pub async fn home_directory(&self, user: &str) -> Result<String> {
        self.need(ext::HOME_DIRECTORY)?;
        self.one_name(Request::HomeDirectory { user: user.into() })
            .await
    }

    /// Creates the hard link `to` of `from` (`hardlink@openssh.com`).
    pub async fn hardlink(&self, from: &str, to: &str) -> Result<()> {
        self.need(ext::HARDLINK)?;
        self.status(Request::Hardlink {
            from: from.into(),
            to: to.into(),
        })
        .await
    }

    /// Statistics of the file system holding `path` (`statvfs@openssh.com`).
    pub async fn statvfs(&self, path: &str) -> Result<StatVfs> {
        self.need(ext::STATVFS)?;
        match self
            .engine
            .call(&Request::Statvfs { path: path.into() })
            .await?
        {
            Reply::StatVfs(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    /// Names for user and group ids (`users-groups-by-id@openssh.com`).
    pub async fn users_groups_by_id(
        &self,
        uids: &[u32],
        gids: &[u32],
    ) -> Result<(Vec<String>, Vec<String>)> {
        self.need(ext::USERS_GROUPS_BY_ID)?;
        let request = Request::UsersGroupsById {
            uids: uids.to_vec(),
            gids: gids.to_vec(),
        };
        match self.engine.call(&request).await? {
            Reply::UsersGroups(u) => {
                let text = |v: Vec<Vec<u8>>| {
                    v.into_iter()
                        .map(|n| String::from_utf8_lossy(&n).into_owned())
                        .collect()
                };
                Ok((text(u.users), text(u.groups)))
            }
            other => Err(unexpected(other)),
        }
    }

    fn need(&self, extension: &'static str) -> Result<()> {
        if self.supports(extension) {
            Ok(())
        } else {
            Err(SftpError::Unsupported(extension))
        }
    }

    /// Opens a file with `flags`; `attrs` apply to a file it creates.
    pub async fn open_with(
        &self,
        path: &str,
        flags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<File> {
        let request = Request::Open {
            path: path.into(),
            flags,
            attrs,
        };
        match self.engine.call(&request).await? {
            Reply::Handle(h) => Ok(File::new(self.clone(), h)),
            other => Err(unexpected(other)),
        }
    }

    /// Opens a file for reading.
    pub async fn open(&self, path: &str) -> Result<File> {
        self.open_with(path, OpenFlags::READ, FileAttributes::default())
            .await
    }

    /// Creates (or truncates) a file for writing, mode 0644 before umask.
    pub async fn create(&self, path: &str) -> Result<File> {
        self.open_with(
            path,
            OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
            FileAttributes::with_permissions(0o644),
        )
        .await
    }

    /// Lists a directory as a stream of entries (`.` and `..` included,
    /// as the server sends them).
    pub async fn read_dir(&self, path: &str) -> Result<ReadDir> {
        match self
            .engine
            .call(&Request::Opendir { path: path.into() })
            .await?
        {
            Reply::Handle(h) => Ok(ReadDir::new(self.clone(), h)),
            other => Err(unexpected(other)),
        }
    }

    /// Lists a directory, without `.` and `..`, sorted by name; refused
    /// past [`TransferOptions::default`]'s `max_entries` entries (a server
    /// listing forever cannot exhaust memory).
    pub async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let max = TransferOptions::default().max_entries;
        let mut entries = self
            .read_dir(path)
            .await?
            .collect_bounded(path, max)
            .await?;
        entries.retain(|e| e.name != "." && e.name != "..");
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Ends the session: closes the channel.
    pub async fn close(self) -> Result<()> {
        self.engine.channel().close_channel().await?;
        Ok(())
    }
}

fn unexpected(reply: Reply) -> SftpError {
    SftpError::Invalid(format!("unexpected SFTP reply {reply:?}"))
}
