//! A hostile SFTP server against a recursive download: names that are
//! paths (`../`, absolute, with `/`), `.` and `..` as directories,
//! symlinks, listings that never end, nesting that never ends, and packet
//! lengths far past any limit. Nothing may be written outside the target
//! directory, and every unbounded answer must end in an error rather than
//! unbounded memory. The server is an application-supplied
//! [`FileSystem`] (the virtual trees) or raw bytes on the channel.

use std::path::Path;
use std::time::Duration;

use conch_driver::testing::{TestServer, PASSWORD, USER};
use conch_tokio::sftp::conch_sftp::packet::NameEntry;
use conch_tokio::sftp::conch_sftp::server::{FileSystem, FsResult, Server};
use conch_tokio::sftp::conch_sftp::{attrs, FileAttributes, OpenFlags, StatusCode, StatusError};
use conch_tokio::sftp::{ProtocolError, Sftp, SftpError, TransferOptions};
use conch_tokio::{connect, Listener};
use futures_util::io::AsyncWriteExt;

const STEP: Duration = Duration::from_secs(30);

#[derive(Clone, Copy)]
enum Mode {
    /// Entry names that try to leave the target.
    Names,
    /// A listing that never ends.
    Endless,
    /// A directory that always holds another.
    Deep,
}

struct HostileFs {
    mode: Mode,
    served: u64,
}

fn dir_attrs() -> FileAttributes {
    FileAttributes::with_permissions(attrs::S_IFDIR | 0o755)
}

fn file_attrs() -> FileAttributes {
    FileAttributes {
        size: Some(5),
        permissions: Some(attrs::S_IFREG | 0o644),
        ..Default::default()
    }
}

fn entry(name: &str, attrs: FileAttributes) -> NameEntry {
    NameEntry {
        filename: name.as_bytes().to_vec(),
        longname: Vec::new(),
        attrs,
    }
}

fn is_dir_path(mode: Mode, path: &[u8]) -> bool {
    match mode {
        Mode::Names => path == b"top" || path == b"top/sub",
        Mode::Endless => path == b"top",
        Mode::Deep => path.starts_with(b"top") && (path == b"top" || path.ends_with(b"/d")),
    }
}

impl FileSystem for HostileFs {
    type File = ();
    type Dir = Vec<u8>;

    fn open(&mut self, _: &[u8], _: OpenFlags, _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn read(&mut self, _: &mut (), offset: u64, _: u32) -> FsResult<Vec<u8>> {
        Ok(if offset == 0 {
            b"hello".to_vec()
        } else {
            Vec::new()
        })
    }
    fn write(&mut self, _: &mut (), _: u64, _: &[u8]) -> FsResult<()> {
        Err(StatusError::new(StatusCode::PermissionDenied))
    }
    fn fstat(&mut self, _: &mut ()) -> FsResult<FileAttributes> {
        Ok(file_attrs())
    }
    fn fsetstat(&mut self, _: &mut (), _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn opendir(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        Ok(path.to_vec())
    }
    fn readdir(&mut self, dir: &mut Vec<u8>) -> FsResult<Vec<NameEntry>> {
        if dir.is_empty() && !matches!(self.mode, Mode::Endless) {
            return Ok(Vec::new());
        }
        let path = std::mem::take(dir);
        Ok(match (self.mode, path.as_slice()) {
            (Mode::Names, b"top") => vec![
                entry("../escape", file_attrs()),
                entry(
                    &format!("/tmp/conch-hostile-abs-{}", std::process::id()),
                    file_attrs(),
                ),
                entry("a/b", file_attrs()),
                entry("..", dir_attrs()),
                entry(".", dir_attrs()),
                entry(
                    "lnk",
                    FileAttributes::with_permissions(attrs::S_IFLNK | 0o777),
                ),
                entry("ok", file_attrs()),
                entry("sub", dir_attrs()),
            ],
            (Mode::Names, _) => vec![
                entry("../../escape2", file_attrs()),
                entry("fine", file_attrs()),
            ],
            (Mode::Endless, _) => {
                // Never EOF: a hundred new names each time.
                *dir = b"again".to_vec();
                (0..100)
                    .map(|_| {
                        self.served += 1;
                        entry(&format!("f{}", self.served), file_attrs())
                    })
                    .collect()
            }
            (Mode::Deep, _) => vec![entry("d", dir_attrs())],
        })
    }
    fn stat(&mut self, path: &[u8]) -> FsResult<FileAttributes> {
        Ok(if is_dir_path(self.mode, path) {
            dir_attrs()
        } else {
            file_attrs()
        })
    }
    fn lstat(&mut self, path: &[u8]) -> FsResult<FileAttributes> {
        self.stat(path)
    }
    fn setstat(&mut self, _: &[u8], _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn remove(&mut self, _: &[u8]) -> FsResult<()> {
        Ok(())
    }
    fn mkdir(&mut self, _: &[u8], _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn rmdir(&mut self, _: &[u8]) -> FsResult<()> {
        Ok(())
    }
    fn realpath(&mut self, p: &[u8]) -> FsResult<Vec<u8>> {
        Ok(p.to_vec())
    }
    fn rename(&mut self, _: &[u8], _: &[u8]) -> FsResult<()> {
        Ok(())
    }
    fn readlink(&mut self, _: &[u8]) -> FsResult<Vec<u8>> {
        Ok(b"/etc/passwd".to_vec())
    }
    fn symlink(&mut self, _: &[u8], _: &[u8]) -> FsResult<()> {
        Ok(())
    }
}

/// What the server's `sftp` subsystem does.
#[derive(Clone, Copy)]
enum Serve {
    Fs(Mode),
    /// After the version, any request is answered by a packet header
    /// announcing about 4 GiB.
    HugeLength,
}

async fn session(serve: Serve) -> Sftp {
    let server = TestServer::new();
    let listener = Listener::bind("127.0.0.1:0", server.options.clone())
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (session, _) = listener.accept().await.unwrap();
        while let Some(incoming) = session.accept_channel().await {
            let channel = incoming.channel.into_inner();
            match serve {
                Serve::Fs(mode) => {
                    std::thread::spawn(move || {
                        let fs = HostileFs { mode, served: 0 };
                        let _ = conch_tokio::sftp::serve_blocking(&channel, Server::new(fs));
                    });
                }
                Serve::HugeLength => {
                    tokio::spawn(async move {
                        let mut w = &channel;
                        // INIT in, VERSION 3 out; then the first request.
                        let _ = channel.read_chunk(1024).await;
                        let _ = w.write_all(&[0, 0, 0, 5, 2, 0, 0, 0, 3]).await;
                        let _ = channel.read_chunk(1024).await;
                        let _ = w
                            .write_all(&[0xff, 0xff, 0xff, 0xf0, 103, 0, 0, 0, 0])
                            .await;
                        // Keep the channel open: the client must give up on
                        // its own.
                        tokio::time::sleep(STEP).await;
                    });
                }
            }
        }
    });
    let session = tokio::time::timeout(STEP, connect("127.0.0.1", port, server.client_options()))
        .await
        .unwrap()
        .unwrap();
    session.auth_password(USER, PASSWORD).await.unwrap();
    tokio::time::timeout(STEP, session.sftp())
        .await
        .unwrap()
        .unwrap()
}

/// Every file under `dir`, relative.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
            out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn names_that_are_paths_are_skipped_and_nothing_lands_outside() {
    let sftp = session(Serve::Fs(Mode::Names)).await;
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("target");
    let stats = tokio::time::timeout(
        STEP,
        sftp.download_tree("top", &target, &TransferOptions::default(), None),
    )
    .await
    .unwrap()
    .unwrap();
    // Only the two plain files and the plain directory arrived.
    assert_eq!(
        files_under(parent.path()),
        ["target", "target/ok", "target/sub", "target/sub/fine"]
    );
    assert_eq!(std::fs::read(target.join("ok")).unwrap(), b"hello");
    assert_eq!(stats.files, 2);
    let reasons: Vec<&str> = stats.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons.len(), 5, "{:?}", stats.skipped);
    assert!(reasons.contains(&"symbolic link"), "{reasons:?}");
    assert!(!Path::new(&format!("/tmp/conch-hostile-abs-{}", std::process::id())).exists());
}

#[tokio::test]
async fn an_endless_listing_ends_in_an_error() {
    let sftp = session(Serve::Fs(Mode::Endless)).await;
    let target = tempfile::tempdir().unwrap();
    let opts = TransferOptions {
        max_entries: 5_000,
        ..Default::default()
    };
    let e = tokio::time::timeout(STEP, sftp.download_tree("top", target.path(), &opts, None))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, SftpError::Invalid(m) if m.contains("more than 5000")),
        "{e}"
    );
    // Nothing was downloaded before the listing was complete.
    assert!(files_under(target.path()).is_empty());
}

#[tokio::test]
async fn endless_nesting_ends_at_the_depth_limit() {
    let sftp = session(Serve::Fs(Mode::Deep)).await;
    let target = tempfile::tempdir().unwrap();
    let opts = TransferOptions {
        max_depth: 10,
        ..Default::default()
    };
    let e = tokio::time::timeout(STEP, sftp.download_tree("top", target.path(), &opts, None))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, SftpError::Invalid(m) if m.contains("deeper than 10")),
        "{e}"
    );
}

#[tokio::test]
async fn a_huge_packet_length_is_refused_before_any_allocation() {
    let sftp = session(Serve::HugeLength).await;
    let e = tokio::time::timeout(STEP, sftp.stat("x"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            e,
            SftpError::Protocol(ProtocolError::PacketTooLong {
                len: 0xffff_fff0,
                ..
            })
        ),
        "{e}"
    );
    // The session is over for every later call too.
    let e = sftp.stat("y").await.unwrap_err();
    assert!(matches!(e, SftpError::Protocol(_)), "{e}");
}
