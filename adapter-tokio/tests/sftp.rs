//! The SFTP client on tokio against the driver's SFTP server over a
//! temporary directory, in process: every file system call, files as
//! tokio streams, pipelined transfers with resume and preserved modes,
//! tree transfers, and the server's confinement to its root.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use conch_driver::testing::{TestServer, PASSWORD, USER};
use conch_tokio::sftp::{conch_sftp, RootFs, Sftp, SftpError, StatusCode, TransferOptions};
use conch_tokio::{connect, Listener, SessionCommand};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

const STEP: Duration = Duration::from_secs(30);

/// Starts a server whose `sftp` subsystem serves `root` (read-only when
/// asked), connects and opens an SFTP session.
async fn sftp_session(root: &Path, read_only: bool) -> Sftp {
    let server = TestServer::new();
    let listener = Listener::bind("127.0.0.1:0", server.options.clone())
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = root.to_path_buf();
    tokio::spawn(async move {
        let (session, _) = listener.accept().await.unwrap();
        while let Some(incoming) = session.accept_channel().await {
            assert_eq!(incoming.command, SessionCommand::Subsystem("sftp".into()));
            let fs = RootFs::new(&root).unwrap();
            let channel = incoming.channel.into_inner();
            std::thread::spawn(move || {
                let server = conch_sftp::server::Server::new(fs).read_only(read_only);
                let _ = conch_tokio::sftp::serve_blocking(&channel, server);
            });
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

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn file_system_calls_and_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sftp = sftp_session(dir.path(), false).await;
    assert!(sftp.supports(conch_sftp::ext::POSIX_RENAME));
    assert_eq!(sftp.limits().max_read_length, 261_120);

    sftp.mkdir("/d", 0o750).await.unwrap();
    assert!(dir.path().join("d").is_dir());
    let mut f = sftp.create("d/a.txt").await.unwrap();
    f.write_all(b"hello world").await.unwrap();
    f.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("d/a.txt")).unwrap(),
        b"hello world"
    );

    let mut f = sftp.open("/d/a.txt").await.unwrap();
    f.seek(std::io::SeekFrom::Start(6)).await.unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).await.unwrap();
    assert_eq!(s, "world");
    assert_eq!(f.seek(std::io::SeekFrom::End(-5)).await.unwrap(), 6);
    assert_eq!(f.metadata().await.unwrap().size, Some(11));
    f.close().await.unwrap();

    let attrs = sftp.stat("d/a.txt").await.unwrap();
    assert!(attrs.is_file());
    sftp.symlink("a.txt", "d/link").await.unwrap();
    assert!(sftp.lstat("d/link").await.unwrap().is_symlink());
    assert_eq!(sftp.readlink("d/link").await.unwrap(), "a.txt");
    assert_eq!(sftp.stat("d/link").await.unwrap().size, Some(11));
    assert_eq!(sftp.realpath("d/../d/./link").await.unwrap(), "/d/a.txt");
    sftp.hardlink("d/a.txt", "d/hard").await.unwrap();
    // posix-rename replaces the target; version 3's RENAME would not.
    sftp.rename("d/hard", "d/moved").await.unwrap();
    std::fs::write(dir.path().join("d/other"), b"x").unwrap();
    sftp.rename("d/other", "d/moved").await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("d/moved")).unwrap(), b"x");
    sftp.remove("d/moved").await.unwrap();
    sftp.chmod("d/a.txt", 0o600).await.unwrap();
    let mode = std::fs::metadata(dir.path().join("d/a.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let names: Vec<String> = sftp
        .list_dir("d")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["a.txt", "link"]);
    assert!(sftp.statvfs("/").await.unwrap().total_bytes() > 0);

    // Errors come back typed.
    let e = sftp.open("missing").await.unwrap_err();
    assert_eq!(e.status_code(), Some(StatusCode::NoSuchFile), "{e}");
    let e = sftp.rmdir("d").await.unwrap_err();
    assert_eq!(e.status_code(), Some(StatusCode::Failure), "{e}");
    let io: std::io::Error = sftp.stat("missing").await.unwrap_err().into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    // Writes are sent behind: a refused one shows at the flush (or close).
    let mut ro = sftp.open("d/a.txt").await.unwrap();
    ro.write_all(b"nope").await.unwrap();
    let e = ro.flush().await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::Other, "{e}");
    drop(ro);
    assert_eq!(
        std::fs::read(dir.path().join("d/a.txt")).unwrap(),
        b"hello world"
    );

    sftp.remove("d/link").await.unwrap();
    sftp.remove("d/a.txt").await.unwrap();
    sftp.rmdir("d").await.unwrap();
    assert!(!dir.path().join("d").exists());
}

#[tokio::test]
async fn transfers_pipeline_resume_and_preserve() {
    let dir = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let sftp = sftp_session(dir.path(), false).await;
    let data = pattern(1_000_003);
    let src = local.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o640)).unwrap();
    // Small chunks: many requests in flight, replies matched out of turn.
    let opts = TransferOptions {
        chunk_size: Some(10_000),
        requests_in_flight: 16,
        preserve: true,
        ..Default::default()
    };
    let mut calls = 0;
    let mut last = 0;
    let mut progress = |p: &conch_tokio::sftp::Progress<'_>| {
        calls += 1;
        last = p.transferred;
    };
    let up = sftp
        .upload(&src, "up.bin", &opts, Some(&mut progress))
        .await
        .unwrap();
    assert_eq!((up.bytes, up.size), (1_000_003, 1_000_003));
    assert!(calls >= 100 && last == 1_000_003, "{calls} {last}");
    assert_eq!(std::fs::read(dir.path().join("up.bin")).unwrap(), data);
    let meta = std::fs::metadata(dir.path().join("up.bin")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);

    let dst = local.path().join("down.bin");
    let down = sftp.download("up.bin", &dst, &opts, None).await.unwrap();
    assert_eq!(down.bytes, 1_000_003);
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert_eq!(
        std::fs::metadata(&dst).unwrap().modified().unwrap(),
        meta.modified().unwrap()
            - Duration::from_nanos(u64::from(
                meta.modified()
                    .unwrap()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos()
            ))
    );

    // Read through the file with small buffers (read ahead underneath),
    // across a seek back and forth.
    let mut f = sftp.open("up.bin").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let mut sought = false;
    loop {
        let n = f.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if !sought && got.len() >= 500_000 {
            sought = true;
            f.seek(std::io::SeekFrom::Current(-100)).await.unwrap();
            got.truncate(got.len() - 100);
        }
    }
    assert!(sought && got == data, "read back {} bytes", got.len());
    f.seek(std::io::SeekFrom::Start(999_999)).await.unwrap();
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).await.unwrap();
    assert_eq!(tail, &data[999_999..]);

    // Resume: a partial local file gets only the rest.
    std::fs::write(&dst, &data[..400_000]).unwrap();
    let resumed = sftp
        .download(
            "up.bin",
            &dst,
            &TransferOptions {
                resume: true,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((resumed.resumed_from, resumed.bytes), (400_000, 600_003));
    assert_eq!(std::fs::read(&dst).unwrap(), data);

    // And an upload resumes from what the server holds.
    std::fs::write(dir.path().join("up2.bin"), &data[..123_456]).unwrap();
    let resumed = sftp
        .upload(
            &src,
            "up2.bin",
            &TransferOptions {
                resume: true,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(resumed.resumed_from, 123_456);
    assert_eq!(std::fs::read(dir.path().join("up2.bin")).unwrap(), data);

    // A zero-byte file both ways.
    std::fs::write(local.path().join("empty"), b"").unwrap();
    sftp.upload(&local.path().join("empty"), "empty", &opts, None)
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(dir.path().join("empty")).unwrap().len(),
        0
    );
    let s = sftp
        .download("empty", &local.path().join("empty2"), &opts, None)
        .await
        .unwrap();
    assert_eq!(s.size, 0);
    assert_eq!(std::fs::read(local.path().join("empty2")).unwrap(), b"");
}

#[tokio::test]
async fn trees_go_both_ways_without_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let sftp = sftp_session(dir.path(), false).await;
    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b/c")).unwrap();
    std::fs::write(tree.join("top.txt"), b"top").unwrap();
    std::fs::write(tree.join("a/b/c/deep.bin"), pattern(70_000)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", tree.join("a/escape")).unwrap();
    let up = sftp
        .upload_tree(&tree, "remote", &TransferOptions::default(), None)
        .await
        .unwrap();
    assert_eq!((up.files, up.dirs), (2, 4));
    assert_eq!(up.skipped.len(), 1, "{:?}", up.skipped);
    assert_eq!(
        std::fs::read(dir.path().join("remote/a/b/c/deep.bin")).unwrap(),
        pattern(70_000)
    );
    // A symlink on the server is skipped by the download too.
    std::os::unix::fs::symlink("/etc", dir.path().join("remote/a/etc")).unwrap();
    let back = local.path().join("back");
    let down = sftp
        .download_tree("remote", &back, &TransferOptions::default(), None)
        .await
        .unwrap();
    assert_eq!((down.files, down.dirs), (2, 4), "{down:?}");
    assert_eq!(down.skipped.len(), 1);
    assert_eq!(std::fs::read(back.join("top.txt")).unwrap(), b"top");
    assert!(!back.join("a/etc").exists());
}

#[tokio::test]
async fn the_server_keeps_clients_inside_its_root() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(outer.path().join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink("../secret", root.join("up")).unwrap();
    std::os::unix::fs::symlink(outer.path(), root.join("abs")).unwrap();
    let sftp = sftp_session(&root, false).await;
    // `..` stops at the root: these name files inside it, which do not
    // exist; symlinks leading out are refused.
    for (path, code) in [
        ("../secret", StatusCode::NoSuchFile),
        ("/../secret", StatusCode::NoSuchFile),
        ("../../../../secret", StatusCode::NoSuchFile),
        ("abs/secret", StatusCode::PermissionDenied),
        ("up", StatusCode::PermissionDenied),
    ] {
        let e = sftp.open(path).await.unwrap_err();
        assert_eq!(e.status_code(), Some(code), "{path}: {e}");
    }
    assert_eq!(sftp.realpath("../..").await.unwrap(), "/");
    // A symlink leading out is refused, even to create a file through it.
    let e = sftp.create("up").await.unwrap_err();
    assert_eq!(e.status_code(), Some(StatusCode::PermissionDenied), "{e}");
    assert_eq!(
        std::fs::read(outer.path().join("secret")).unwrap(),
        b"secret"
    );
    assert!(!root.join("secret").exists());
    let e = sftp.mkdir("abs/newdir", 0o755).await.unwrap_err();
    assert_eq!(e.status_code(), Some(StatusCode::PermissionDenied), "{e}");
    assert!(!outer.path().join("newdir").exists());
}

/// Every operation through `link`, a symlink (or a path through one) that
/// leads out of the root, is refused with PERMISSION_DENIED.
async fn all_refused(sftp: &Sftp, link: &str) {
    let denied = |what: &str, r: Result<(), SftpError>| {
        let e = r.expect_err(what);
        assert_eq!(
            e.status_code(),
            Some(StatusCode::PermissionDenied),
            "{what} through {link}: {e}"
        );
    };
    let file = format!("{link}/f");
    denied("open", sftp.open(&file).await.map(drop));
    denied("create", sftp.create(&file).await.map(drop));
    denied(
        "create new",
        sftp.create(&format!("{link}/new")).await.map(drop),
    );
    denied("stat", sftp.stat(&file).await.map(drop));
    denied("lstat", sftp.lstat(&file).await.map(drop));
    let mode = conch_sftp::FileAttributes {
        permissions: Some(0o777),
        ..Default::default()
    };
    denied("setstat", sftp.setstat(&file, mode).await);
    denied("mkdir", sftp.mkdir(&format!("{link}/d"), 0o755).await);
    denied("rmdir", sftp.rmdir(&format!("{link}/sub")).await);
    denied("remove", sftp.remove(&file).await);
    denied("rename from", sftp.rename(&file, "stolen").await);
    denied(
        "rename to",
        sftp.rename("inside", &format!("{link}/moved")).await,
    );
    denied(
        "readlink",
        sftp.readlink(&format!("{link}/l")).await.map(drop),
    );
    denied("realpath", sftp.realpath(&file).await.map(drop));
    denied("opendir", sftp.list_dir(link).await.map(drop));
    denied("symlink", sftp.symlink("x", &format!("{link}/sl")).await);
    denied(
        "hardlink",
        sftp.hardlink("inside", &format!("{link}/hl")).await,
    );
    denied("statvfs", sftp.statvfs(link).await.map(drop));
}

#[tokio::test]
async fn symlinks_out_of_the_root_are_refused_by_every_operation() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    let out = outer.path().join("out");
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(out.join("sub")).unwrap();
    std::fs::write(out.join("f"), b"outside").unwrap();
    std::os::unix::fs::symlink("f", out.join("l")).unwrap();
    std::fs::write(root.join("inside"), b"inside").unwrap();
    std::fs::write(root.join("sub/deeper/g"), b"g").unwrap();
    // Inside links keep working, relative and through `..`.
    std::os::unix::fs::symlink("sub/deeper", root.join("in")).unwrap();
    std::os::unix::fs::symlink("../../inside", root.join("sub/deeper/back")).unwrap();
    let sftp = sftp_session(&root, false).await;
    let mut s = String::new();
    sftp.open("in/g")
        .await
        .unwrap()
        .read_to_string(&mut s)
        .await
        .unwrap();
    assert_eq!(s, "g");
    let mut s = String::new();
    sftp.open("in/back")
        .await
        .unwrap()
        .read_to_string(&mut s)
        .await
        .unwrap();
    assert_eq!(s, "inside");
    assert_eq!(sftp.realpath("in/back").await.unwrap(), "/inside");
    sftp.mkdir("in/made", 0o755).await.unwrap();
    assert!(root.join("sub/deeper/made").is_dir());

    let snapshot = || {
        let mut names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        (
            names,
            std::fs::read(out.join("f")).unwrap(),
            std::fs::metadata(out.join("f"))
                .unwrap()
                .permissions()
                .mode(),
        )
    };
    let before = snapshot();
    // Links leading out: absolute, relative with `..`, and a directory
    // swapped for a link between two calls (as a local user racing the
    // server would).
    std::os::unix::fs::symlink(&out, root.join("abs")).unwrap();
    std::os::unix::fs::symlink("../out", root.join("rel")).unwrap();
    std::os::unix::fs::symlink("../../../out", root.join("sub/deeper/up")).unwrap();
    std::fs::create_dir(root.join("swapped")).unwrap();
    std::fs::write(root.join("swapped/f"), b"was inside").unwrap();
    assert_eq!(sftp.stat("swapped/f").await.unwrap().size, Some(10));
    std::fs::remove_file(root.join("swapped/f")).unwrap();
    std::fs::remove_dir(root.join("swapped")).unwrap();
    std::os::unix::fs::symlink(&out, root.join("swapped")).unwrap();
    for link in ["abs", "rel", "in/up", "swapped"] {
        all_refused(&sftp, link).await;
    }
    // The links themselves are still names inside the root.
    assert!(sftp.lstat("abs").await.unwrap().is_symlink());
    assert_eq!(sftp.readlink("rel").await.unwrap(), "../out");
    assert_eq!(snapshot(), before);
}

#[tokio::test]
async fn a_read_only_server_refuses_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"data").unwrap();
    let sftp = sftp_session(dir.path(), true).await;
    let e = sftp.remove("f").await.unwrap_err();
    assert_eq!(e.status_code(), Some(StatusCode::PermissionDenied));
    let e = sftp.create("g").await.unwrap_err();
    assert!(matches!(e, SftpError::Status(_)));
    let mut s = String::new();
    sftp.open("f")
        .await
        .unwrap()
        .read_to_string(&mut s)
        .await
        .unwrap();
    assert_eq!(s, "data");
    assert!(dir.path().join("f").exists() && !dir.path().join("g").exists());
}
