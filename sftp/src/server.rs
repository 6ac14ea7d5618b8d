//! The server role: decodes requests, calls a [`FileSystem`] and encodes
//! the replies (draft-ietf-secsh-filexfer-02 sections 6-7, OpenSSH PROTOCOL
//! section 4). No I/O of its own: the file system trait does it (or not:
//! an application may serve a virtual tree), and the caller moves bytes.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use crate::attrs::{FileAttributes, OpenFlags};
use crate::error::{ProtocolError, StatusCode, StatusError};
use crate::ext::{self, Limits, StatVfs, UsersGroups};
use crate::packet::{
    encode_version, ClientPacket, Framer, Handle, NameEntry, Request, Response, MAX_PACKET_LEN,
};

/// What a file system call returns: a value or the status to answer.
pub type FsResult<T> = Result<T, StatusError>;

fn unsupported<T>() -> FsResult<T> {
    Err(StatusError::new(StatusCode::OpUnsupported))
}

/// The file system a [`Server`] serves. Paths are the client's bytes, as
/// sent; the implementation resolves them (and confines them, if it
/// serves a subtree). Optional operations answer OP_UNSUPPORTED by default.
pub trait FileSystem {
    /// An open file.
    type File;
    /// An open directory being listed.
    type Dir;

    /// Opens (or creates) a file.
    fn open(
        &mut self,
        path: &[u8],
        flags: OpenFlags,
        attrs: &FileAttributes,
    ) -> FsResult<Self::File>;
    /// Reads at most `len` bytes at `offset`; empty at the end of the file.
    fn read(&mut self, file: &mut Self::File, offset: u64, len: u32) -> FsResult<Vec<u8>>;
    /// Writes all of `data` at `offset`.
    fn write(&mut self, file: &mut Self::File, offset: u64, data: &[u8]) -> FsResult<()>;
    /// The open file's attributes.
    fn fstat(&mut self, file: &mut Self::File) -> FsResult<FileAttributes>;
    /// Sets the open file's attributes.
    fn fsetstat(&mut self, file: &mut Self::File, attrs: &FileAttributes) -> FsResult<()>;
    /// Flushes the file to stable storage.
    fn fsync(&mut self, _file: &mut Self::File) -> FsResult<()> {
        unsupported()
    }
    /// Closes the file (dropping it must close it too).
    fn close(&mut self, _file: Self::File) -> FsResult<()> {
        Ok(())
    }
    /// Opens a directory for listing.
    fn opendir(&mut self, path: &[u8]) -> FsResult<Self::Dir>;
    /// The next entries of a directory; empty at its end.
    fn readdir(&mut self, dir: &mut Self::Dir) -> FsResult<Vec<NameEntry>>;
    /// Attributes, following symlinks.
    fn stat(&mut self, path: &[u8]) -> FsResult<FileAttributes>;
    /// Attributes of the path itself (a symlink is not followed).
    fn lstat(&mut self, path: &[u8]) -> FsResult<FileAttributes>;
    /// Sets attributes, following symlinks.
    fn setstat(&mut self, path: &[u8], attrs: &FileAttributes) -> FsResult<()>;
    /// Sets attributes of the path itself.
    fn lsetstat(&mut self, _path: &[u8], _attrs: &FileAttributes) -> FsResult<()> {
        unsupported()
    }
    /// Removes a file.
    fn remove(&mut self, path: &[u8]) -> FsResult<()>;
    /// Creates a directory.
    fn mkdir(&mut self, path: &[u8], attrs: &FileAttributes) -> FsResult<()>;
    /// Removes an empty directory.
    fn rmdir(&mut self, path: &[u8]) -> FsResult<()>;
    /// The canonical absolute form of a path.
    fn realpath(&mut self, path: &[u8]) -> FsResult<Vec<u8>>;
    /// Renames, failing if `to` exists (version 3's RENAME).
    fn rename(&mut self, from: &[u8], to: &[u8]) -> FsResult<()>;
    /// Renames, replacing `to` (POSIX rename).
    fn posix_rename(&mut self, _from: &[u8], _to: &[u8]) -> FsResult<()> {
        unsupported()
    }
    /// The target of a symlink.
    fn readlink(&mut self, path: &[u8]) -> FsResult<Vec<u8>>;
    /// Creates the symlink `link` pointing at `target`.
    fn symlink(&mut self, target: &[u8], link: &[u8]) -> FsResult<()>;
    /// Creates the hard link `to` of `from`.
    fn hardlink(&mut self, _from: &[u8], _to: &[u8]) -> FsResult<()> {
        unsupported()
    }
    /// File system statistics.
    fn statvfs(&mut self, _path: &[u8]) -> FsResult<StatVfs> {
        unsupported()
    }
    /// A user's home directory (empty name: the session's user's).
    fn home_directory(&mut self, _user: &[u8]) -> FsResult<Vec<u8>> {
        unsupported()
    }
    /// Names for user and group ids (empty where unknown).
    fn users_groups(&mut self, _uids: &[u32], _gids: &[u32]) -> FsResult<UsersGroups> {
        unsupported()
    }
    /// An `ls -l` style line for a NAME entry.
    fn longname(&mut self, name: &[u8], attrs: &FileAttributes) -> Vec<u8> {
        crate::longname(name, attrs).into_bytes()
    }
}

/// OpenSSH's `SFTP_MAX_READ_LENGTH`: a DATA reply then fits in a packet.
pub const MAX_READ_LEN: u32 = MAX_PACKET_LEN - 1024;

/// Handles open at once at most (OpenSSH's sftp-server allows 512).
pub const MAX_HANDLES: usize = 512;

enum Open<F: FileSystem> {
    File(F::File),
    Dir {
        dir: F::Dir,
        // Entries read from the file system that did not fit in the last
        // NAME packet.
        pending: VecDeque<NameEntry>,
    },
}

/// The SFTP server state machine over a file system.
pub struct Server<F: FileSystem> {
    fs: F,
    framer: Framer,
    out: Vec<u8>,
    sent: usize,
    handles: HashMap<Handle, Open<F>>,
    next_handle: u64,
    initialized: bool,
    read_only: bool,
    failed: Option<ProtocolError>,
}

impl<F: FileSystem> std::fmt::Debug for Server<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("handles", &self.handles.len())
            .field("initialized", &self.initialized)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl<F: FileSystem> Server<F> {
    /// A server over `fs`, accepting packets up to [`MAX_PACKET_LEN`].
    pub fn new(fs: F) -> Self {
        Server {
            fs,
            framer: Framer::new(MAX_PACKET_LEN),
            out: Vec::new(),
            sent: 0,
            handles: HashMap::new(),
            next_handle: 0,
            initialized: false,
            read_only: false,
            failed: None,
        }
    }

    /// Refuses every request that would change the file system with
    /// PERMISSION_DENIED (OpenSSH sftp-server's `-R`).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The file system.
    pub fn fs(&mut self) -> &mut F {
        &mut self.fs
    }

    /// The bytes to send next (empty when there are none).
    pub fn transmit(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// Marks `n` bytes of [`Server::transmit`] as sent.
    pub fn consume_transmit(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
    }

    /// Handles bytes from the client, answering each whole request (the
    /// replies wait in [`Server::transmit`]). A protocol error ends the
    /// session. Send the output before handing in more input: each
    /// request's reply is bounded, the sum is not.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.framer.push(data);
        loop {
            let (ty, body) = match self.framer.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            };
            match ClientPacket::decode(ty, body) {
                Ok(ClientPacket::Init { .. }) if !self.initialized => {
                    self.initialized = true;
                    encode_version(&mut self.out, ext::ALL);
                }
                Ok(ClientPacket::Request { id, request }) if self.initialized => {
                    let response = self.answer(request);
                    response.encode(id, &mut self.out);
                }
                Ok(_) => {
                    self.failed = Some(ProtocolError::VersionOrder);
                    return Err(ProtocolError::VersionOrder);
                }
                // A request we could read the id of, but not the rest, is
                // answered; the stream itself is still in step.
                Err((Some(id), _)) if self.initialized => {
                    Response::status(StatusCode::BadMessage).encode(id, &mut self.out);
                }
                Err((_, e)) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
    }

    fn new_handle(&mut self, open: Open<F>) -> FsResult<Handle> {
        if self.handles.len() >= MAX_HANDLES {
            return Err(StatusError::with_message(
                StatusCode::Failure,
                "too many open handles",
            ));
        }
        let h = self.next_handle.to_be_bytes().to_vec();
        self.next_handle += 1;
        self.handles.insert(h.clone(), open);
        Ok(h)
    }

    fn file<'a>(
        handles: &'a mut HashMap<Handle, Open<F>>,
        handle: &[u8],
    ) -> FsResult<&'a mut F::File> {
        match handles.get_mut(handle) {
            Some(Open::File(f)) => Ok(f),
            _ => Err(StatusError::with_message(
                StatusCode::Failure,
                "invalid handle",
            )),
        }
    }

    fn answer(&mut self, request: Request) -> Response {
        if self.read_only && request.writes() {
            return Response::status(StatusCode::PermissionDenied);
        }
        match self.dispatch(request) {
            Ok(r) => r,
            Err(e) => Response::Status {
                code: e.code,
                message: e.message,
                language: String::new(),
            },
        }
    }

    fn name(&mut self, path: Vec<u8>) -> Response {
        let attrs = FileAttributes::default();
        let longname = path.clone();
        Response::Name(vec![NameEntry {
            filename: path,
            longname,
            attrs,
        }])
    }

    fn dispatch(&mut self, request: Request) -> FsResult<Response> {
        let ok = Response::status(StatusCode::Ok);
        Ok(match request {
            Request::Open { path, flags, attrs } => {
                let f = self.fs.open(&path, flags, &attrs)?;
                Response::Handle(self.new_handle(Open::File(f))?)
            }
            Request::Opendir { path } => {
                let d = self.fs.opendir(&path)?;
                Response::Handle(self.new_handle(Open::Dir {
                    dir: d,
                    pending: VecDeque::new(),
                })?)
            }
            Request::Close { handle } => match self.handles.remove(&handle) {
                Some(Open::File(f)) => {
                    self.fs.close(f)?;
                    ok
                }
                Some(Open::Dir { .. }) => ok,
                None => {
                    return Err(StatusError::with_message(
                        StatusCode::Failure,
                        "invalid handle",
                    ))
                }
            },
            Request::Read {
                handle,
                offset,
                len,
            } => {
                let len = len.min(MAX_READ_LEN);
                let f = Self::file(&mut self.handles, &handle)?;
                let mut data = self.fs.read(f, offset, len)?;
                if data.is_empty() {
                    return Err(StatusError::new(StatusCode::Eof));
                }
                data.truncate(len as usize);
                Response::Data(Bytes::from(data))
            }
            Request::Write {
                handle,
                offset,
                data,
            } => {
                let f = Self::file(&mut self.handles, &handle)?;
                self.fs.write(f, offset, &data)?;
                ok
            }
            Request::Fstat { handle } => {
                let f = Self::file(&mut self.handles, &handle)?;
                Response::Attrs(self.fs.fstat(f)?)
            }
            Request::Fsetstat { handle, attrs } => {
                let f = Self::file(&mut self.handles, &handle)?;
                self.fs.fsetstat(f, &attrs)?;
                ok
            }
            Request::Fsync { handle } => {
                let f = Self::file(&mut self.handles, &handle)?;
                self.fs.fsync(f)?;
                ok
            }
            Request::Readdir { handle } => return self.readdir(&handle),
            Request::Lstat { path } => Response::Attrs(self.fs.lstat(&path)?),
            Request::Stat { path } => Response::Attrs(self.fs.stat(&path)?),
            Request::Setstat { path, attrs } => {
                self.fs.setstat(&path, &attrs)?;
                ok
            }
            Request::Lsetstat { path, attrs } => {
                self.fs.lsetstat(&path, &attrs)?;
                ok
            }
            Request::Remove { path } => {
                self.fs.remove(&path)?;
                ok
            }
            Request::Mkdir { path, attrs } => {
                self.fs.mkdir(&path, &attrs)?;
                ok
            }
            Request::Rmdir { path } => {
                self.fs.rmdir(&path)?;
                ok
            }
            Request::Realpath { path } => {
                let p = self.fs.realpath(&path)?;
                self.name(p)
            }
            Request::ExpandPath { path } => {
                // `~` and `~/...` name the user's home (PROTOCOL 4.9);
                // `~user` is refused rather than guessed.
                let expanded = if path == b"~" || path.starts_with(b"~/") {
                    let mut home = self.fs.home_directory(b"")?;
                    if path.len() > 2 {
                        home.push(b'/');
                        home.extend_from_slice(&path[2..]);
                    }
                    home
                } else if path.starts_with(b"~") {
                    return Err(StatusError::new(StatusCode::OpUnsupported));
                } else {
                    path
                };
                let p = self.fs.realpath(&expanded)?;
                self.name(p)
            }
            Request::HomeDirectory { user } => {
                let p = self.fs.home_directory(&user)?;
                self.name(p)
            }
            Request::Rename { from, to } => {
                self.fs.rename(&from, &to)?;
                ok
            }
            Request::PosixRename { from, to } => {
                self.fs.posix_rename(&from, &to)?;
                ok
            }
            Request::Readlink { path } => {
                let p = self.fs.readlink(&path)?;
                self.name(p)
            }
            Request::Symlink { target, link } => {
                self.fs.symlink(&target, &link)?;
                ok
            }
            Request::Hardlink { from, to } => {
                self.fs.hardlink(&from, &to)?;
                ok
            }
            Request::Statvfs { path } => Response::StatVfs(self.fs.statvfs(&path)?),
            Request::Fstatvfs { .. } => return Err(StatusError::new(StatusCode::OpUnsupported)),
            Request::Limits => Response::Limits(Limits {
                max_packet_length: u64::from(MAX_PACKET_LEN),
                max_read_length: u64::from(MAX_READ_LEN),
                max_write_length: u64::from(MAX_READ_LEN),
                max_open_handles: MAX_HANDLES as u64,
            }),
            Request::UsersGroupsById { uids, gids } => {
                Response::UsersGroups(self.fs.users_groups(&uids, &gids)?)
            }
            Request::CopyData {
                from,
                from_offset,
                len,
                to,
                to_offset,
            } => {
                self.copy_data(&from, from_offset, len, &to, to_offset)?;
                ok
            }
            Request::Extended { .. } => return Err(StatusError::new(StatusCode::OpUnsupported)),
        })
    }

    fn readdir(&mut self, handle: &[u8]) -> FsResult<Response> {
        let Some(Open::Dir { dir, pending }) = self.handles.get_mut(handle) else {
            return Err(StatusError::with_message(
                StatusCode::Failure,
                "invalid handle",
            ));
        };
        if pending.is_empty() {
            pending.extend(self.fs.readdir(dir)?);
        }
        if pending.is_empty() {
            return Err(StatusError::new(StatusCode::Eof));
        }
        // Fill the NAME packet up to the packet limit; the rest waits for
        // the next READDIR.
        let mut entries = Vec::new();
        let mut size = 64;
        while let Some(mut e) = pending.pop_front() {
            if e.longname.is_empty() {
                e.longname = self.fs.longname(&e.filename, &e.attrs);
            }
            let mut enc = Vec::new();
            e.attrs.encode(&mut enc);
            let len = 8 + e.filename.len() + e.longname.len() + enc.len();
            if size + len > MAX_PACKET_LEN as usize {
                if entries.is_empty() {
                    // One entry too large for any packet: skipped.
                    continue;
                }
                pending.push_front(e);
                break;
            }
            size += len;
            entries.push(e);
        }
        Ok(Response::Name(entries))
    }

    fn copy_data(
        &mut self,
        from: &[u8],
        mut from_offset: u64,
        len: u64,
        to: &[u8],
        mut to_offset: u64,
    ) -> FsResult<()> {
        if from == to {
            return Err(StatusError::with_message(
                StatusCode::Failure,
                "copy-data within one handle",
            ));
        }
        let Some(Open::File(mut src)) = self.handles.remove(from) else {
            return Err(StatusError::with_message(
                StatusCode::Failure,
                "invalid handle",
            ));
        };
        let result = (|| {
            let mut left = len;
            loop {
                let want = if len == 0 {
                    MAX_READ_LEN
                } else {
                    u32::try_from(left.min(u64::from(MAX_READ_LEN))).unwrap_or(MAX_READ_LEN)
                };
                if want == 0 {
                    return Ok(());
                }
                let data = self.fs.read(&mut src, from_offset, want)?;
                if data.is_empty() {
                    return if len == 0 {
                        Ok(())
                    } else {
                        Err(StatusError::new(StatusCode::Eof))
                    };
                }
                let dst = Self::file(&mut self.handles, to)?;
                self.fs.write(dst, to_offset, &data)?;
                from_offset += data.len() as u64;
                to_offset += data.len() as u64;
                left = left.saturating_sub(data.len() as u64);
            }
        })();
        self.handles.insert(from.to_vec(), Open::File(src));
        result
    }
}
