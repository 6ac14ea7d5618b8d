//! SFTP with real peers. Conch's client against OpenSSH's sftp-server
//! (sshd with `Subsystem sftp internal-sftp`): every operation, 64 MiB up
//! and down byte-exact by SHA-256, an empty file, a sparse file past 4 GiB,
//! a nested tree with symlinks, and errors as typed errors. OpenSSH's
//! `sftp -b` and `scp` against `conchd`'s server with the same hashes;
//! `conch sftp` against `conchd`, and path escapes refused by `conchd`.
//! Every run is bounded in time.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use conch_interop::known_hosts::host_pattern_for;
use conch_interop::{
    pattern_sha256, run_bounded, sha256_hex, workspace_bin, Input, KeyPair, KeyType, OpenSsh,
    PatternReader, ServerProcess, Sshd, SshdOptions, TestDir, TEST_PASSWORD, TEST_USER,
};
use conch_tokio::sftp::{Sftp, StatusCode, TransferOptions};
use conch_tokio::{
    connect, load_private_key, AuthMethods, ClientOptions, HostKeyPolicy, PublicKey,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

const STEP: Duration = Duration::from_secs(60);
const SIXTY_FOUR_MIB: u64 = 64 * 1024 * 1024;
const FOUR_GIB: u64 = 4 * 1024 * 1024 * 1024;

fn block_on<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            tokio::time::timeout(STEP, f)
                .await
                .unwrap_or_else(|_| panic!("timed out after {STEP:?}: {what}"))
        })
}

fn options(sshd: &Sshd) -> ClientOptions {
    let keys = sshd
        .host_keys()
        .iter()
        .map(|k| PublicKey::from_openssh(&k.public_line).expect("host key"));
    let mut options = ClientOptions::new(HostKeyPolicy::trust_keys(keys));
    options.connect_timeout = Some(STEP);
    options
}

/// An SFTP session to sshd as the user running the tests (public key).
async fn sftp_to(sshd: &Sshd) -> Sftp {
    let session = connect("127.0.0.1", sshd.port(), options(sshd))
        .await
        .expect("connect");
    let key = load_private_key(&sshd.user_key().private_path, &mut |_| None).expect("user key");
    session
        .authenticate(&sshd.login_user(), AuthMethods::new().key(key))
        .await
        .expect("authenticate");
    session.sftp().await.expect("sftp subsystem")
}

fn write_pattern(path: &Path, len: u64, seed: u64) {
    let mut f = fs::File::create(path).unwrap();
    std::io::copy(&mut PatternReader::new(len, seed), &mut f).unwrap();
}

fn file_sha256(path: &Path) -> String {
    sha256_hex(&fs::read(path).unwrap())
}

fn s(p: &Path) -> String {
    p.to_str().expect("UTF-8 temp path").to_string()
}

#[test]
fn every_operation_against_internal_sftp() {
    every_operation_against(OpenSsh::System);
}

#[test]
fn every_operation_against_internal_sftp_of_openssh_10() {
    every_operation_against(OpenSsh::V10);
}

fn every_operation_against(openssh: OpenSsh) {
    let sshd = Sshd::start(SshdOptions {
        openssh,
        ..SshdOptions::default()
    });
    let dir = TestDir::new("sftp-ops");
    let base = s(dir.path());
    block_on("operations", async {
        let sftp = sftp_to(&sshd).await;
        assert_eq!(sftp.server_info().version, 3);
        // OpenSSH offers limits@openssh.com: reads and writes of ~255 KiB.
        assert!(
            sftp.limits().max_read_length > 32 * 1024,
            "{:?}",
            sftp.limits()
        );
        let d = format!("{base}/d");
        sftp.mkdir(&d, 0o755).await.unwrap();
        assert!(sftp.stat(&d).await.unwrap().is_dir());
        let mut f = sftp.create(&format!("{d}/a")).await.unwrap();
        f.write_all(b"0123456789").await.unwrap();
        f.seek(std::io::SeekFrom::Start(2)).await.unwrap();
        f.write_all(b"ab").await.unwrap();
        f.sync_all().await.unwrap();
        f.close().await.unwrap();
        assert_eq!(fs::read(dir.join("d/a")).unwrap(), b"01ab456789");
        let mut f = sftp.open(&format!("{d}/a")).await.unwrap();
        assert_eq!(f.seek(std::io::SeekFrom::End(-3)).await.unwrap(), 7);
        let mut tail = String::new();
        f.read_to_string(&mut tail).await.unwrap();
        assert_eq!(tail, "789");
        drop(f);

        sftp.symlink("a", &format!("{d}/l")).await.unwrap();
        assert!(sftp.lstat(&format!("{d}/l")).await.unwrap().is_symlink());
        assert_eq!(sftp.readlink(&format!("{d}/l")).await.unwrap(), "a");
        assert_eq!(
            sftp.realpath(&format!("{d}/../d/./a")).await.unwrap(),
            fs::canonicalize(dir.join("d/a")).unwrap().to_str().unwrap()
        );
        sftp.hardlink(&format!("{d}/a"), &format!("{d}/h"))
            .await
            .unwrap();
        sftp.rename(&format!("{d}/h"), &format!("{d}/r"))
            .await
            .unwrap();
        assert_eq!(fs::read(dir.join("d/r")).unwrap(), b"01ab456789");
        sftp.chmod(&format!("{d}/r"), 0o600).await.unwrap();
        assert_eq!(
            sftp.stat(&format!("{d}/r"))
                .await
                .unwrap()
                .permissions
                .unwrap()
                & 0o777,
            0o600
        );
        let names: Vec<String> = sftp
            .list_dir(&d)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["a", "l", "r"]);
        let vfs = sftp.statvfs(&d).await.unwrap();
        assert!(vfs.total_bytes() > 0 && vfs.namemax >= 255, "{vfs:?}");
        // Times on the link itself, and a server-side copy.
        sftp.lsetstat(
            &format!("{d}/a"),
            conch_tokio::sftp::FileAttributes {
                atime_mtime: Some((1_000_000_000, 1_000_000_000)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            sftp.stat(&format!("{d}/l")).await.unwrap().mtime(),
            Some(1_000_000_000)
        );
        let mut from = sftp.open(&format!("{d}/a")).await.unwrap();
        assert!(from.statvfs().await.unwrap().total_bytes() > 0);
        if sftp.supports(conch_tokio::sftp::conch_sftp::ext::COPY_DATA) {
            let mut to = sftp.create(&format!("{d}/copy")).await.unwrap();
            from.copy_to(2, 0, &mut to, 0).await.unwrap();
            to.close().await.unwrap();
            assert_eq!(fs::read(dir.join("d/copy")).unwrap(), b"ab456789");
            sftp.remove(&format!("{d}/copy")).await.unwrap();
        }
        drop(from);
        let uid = sftp.stat(&d).await.unwrap().uid_gid.unwrap().0;
        let (users, _) = sftp.users_groups_by_id(&[uid], &[]).await.unwrap();
        assert_eq!(users, [sshd.login_user()]);
        let home = sftp.home_directory(&sshd.login_user()).await.unwrap();
        assert!(home.starts_with('/'), "{home}");
        assert_eq!(sftp.expand_path("~").await.unwrap(), home);

        // Errors, typed.
        let e = sftp.open(&format!("{d}/missing")).await.unwrap_err();
        assert_eq!(e.status_code(), Some(StatusCode::NoSuchFile), "{e}");
        let e = sftp.rmdir(&d).await.unwrap_err();
        assert_eq!(e.status_code(), Some(StatusCode::Failure), "{e}");
        let e = sftp.mkdir(&d, 0o755).await.unwrap_err();
        assert_eq!(e.status_code(), Some(StatusCode::Failure), "{e}");

        for name in ["a", "l", "r"] {
            sftp.remove(&format!("{d}/{name}")).await.unwrap();
        }
        sftp.rmdir(&d).await.unwrap();
        assert!(!dir.join("d").exists());
    });
}

#[test]
fn permission_denied_is_a_typed_error() {
    let sshd = Sshd::start(SshdOptions {
        password_auth: true,
        ..SshdOptions::default()
    });
    // A directory only the runner may enter.
    let dir = TestDir::new("sftp-perm");
    let private = dir.join("private");
    fs::create_dir(&private).unwrap();
    fs::write(private.join("f"), b"x").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    }
    block_on("permission denied", async {
        let session = connect("127.0.0.1", sshd.port(), options(&sshd))
            .await
            .unwrap();
        session
            .authenticate(TEST_USER, AuthMethods::new().password(TEST_PASSWORD))
            .await
            .unwrap();
        let sftp = session.sftp().await.unwrap();
        let e = sftp.open(&s(&private.join("f"))).await.unwrap_err();
        assert_eq!(e.status_code(), Some(StatusCode::PermissionDenied), "{e}");
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
    });
}

/// A full disk (`/dev/full`: every write fails with ENOSPC) is a typed
/// failure, for a whole upload and for a file's writes sent behind.
#[test]
fn a_full_disk_is_a_typed_error() {
    let sshd = Sshd::start_default();
    let local = TestDir::new("sftp-full");
    let src = local.join("src.bin");
    write_pattern(&src, 1_000_000, 2);
    block_on("full disk", async {
        let sftp = sftp_to(&sshd).await;
        let e = sftp
            .upload(&src, "/dev/full", &TransferOptions::default(), None)
            .await
            .unwrap_err();
        assert_eq!(e.status_code(), Some(StatusCode::Failure), "{e}");
        let mut f = sftp
            .open_with(
                "/dev/full",
                conch_tokio::sftp::OpenFlags::WRITE,
                Default::default(),
            )
            .await
            .unwrap();
        f.write_all(b"does not fit").await.unwrap();
        let e = f.flush().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Other, "{e}");
    });
}

#[test]
fn large_empty_and_sparse_files_byte_exact() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("sftp-large");
    let local = TestDir::new("sftp-large-local");
    let src = local.join("src.bin");
    write_pattern(&src, SIXTY_FOUR_MIB, 19);
    let want = pattern_sha256(SIXTY_FOUR_MIB, 19);
    block_on("64 MiB up and down", async {
        let sftp = sftp_to(&sshd).await;
        let opts = TransferOptions::default();
        let remote = s(&dir.join("up.bin"));
        let up = sftp.upload(&src, &remote, &opts, None).await.unwrap();
        assert_eq!(up.bytes, SIXTY_FOUR_MIB);
        assert_eq!(file_sha256(&dir.join("up.bin")), want);
        let back = local.join("back.bin");
        let down = sftp.download(&remote, &back, &opts, None).await.unwrap();
        assert_eq!(down.size, SIXTY_FOUR_MIB);
        assert_eq!(file_sha256(&back), want);

        // Empty both ways.
        fs::write(local.join("empty"), b"").unwrap();
        sftp.upload(&local.join("empty"), &s(&dir.join("empty")), &opts, None)
            .await
            .unwrap();
        assert_eq!(fs::metadata(dir.join("empty")).unwrap().len(), 0);
        let e = sftp
            .download(&s(&dir.join("empty")), &local.join("empty2"), &opts, None)
            .await
            .unwrap();
        assert_eq!((e.bytes, e.size), (0, 0));

        // Past 4 GiB: 64-bit offsets in READ, WRITE and sizes.
        let sparse = dir.join("sparse");
        {
            let f = fs::File::create(&sparse).unwrap();
            f.set_len(FOUR_GIB + 4096).unwrap();
            std::os::unix::fs::FileExt::write_all_at(&f, b"marker", FOUR_GIB + 100).unwrap();
        }
        let path = s(&sparse);
        assert_eq!(sftp.stat(&path).await.unwrap().size, Some(FOUR_GIB + 4096));
        let mut f = sftp
            .open_with(
                &path,
                conch_tokio::sftp::OpenFlags::READ | conch_tokio::sftp::OpenFlags::WRITE,
                Default::default(),
            )
            .await
            .unwrap();
        f.seek(std::io::SeekFrom::Start(FOUR_GIB + 100))
            .await
            .unwrap();
        let mut m = [0u8; 6];
        f.read_exact(&mut m).await.unwrap();
        assert_eq!(&m, b"marker");
        f.seek(std::io::SeekFrom::Start(FOUR_GIB + 4096))
            .await
            .unwrap();
        f.write_all(b"tail").await.unwrap();
        f.close().await.unwrap();
        let meta = fs::metadata(&sparse).unwrap();
        assert_eq!(meta.len(), FOUR_GIB + 4100);
        // Still sparse: a few blocks, not gigabytes.
        assert!(
            std::os::unix::fs::MetadataExt::blocks(&meta) < 1024,
            "{}",
            std::os::unix::fs::MetadataExt::blocks(&meta)
        );
        fs::remove_file(&sparse).unwrap();
    });
}

#[test]
fn a_nested_tree_with_symlinks_round_trips() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("sftp-tree");
    let local = TestDir::new("sftp-tree-local");
    let tree = local.join("tree");
    fs::create_dir_all(tree.join("a/b/c")).unwrap();
    fs::create_dir_all(tree.join("empty-dir")).unwrap();
    fs::write(tree.join("top"), b"top").unwrap();
    fs::write(tree.join("a/b/c/zero"), b"").unwrap();
    write_pattern(&tree.join("a/b/mid.bin"), 3_000_001, 5);
    std::os::unix::fs::symlink("../top", tree.join("a/link")).unwrap();
    block_on("tree", async {
        let sftp = sftp_to(&sshd).await;
        let remote = s(&dir.join("tree"));
        let up = sftp
            .upload_tree(&tree, &remote, &TransferOptions::default(), None)
            .await
            .unwrap();
        assert_eq!((up.files, up.dirs), (3, 5), "{up:?}");
        assert_eq!(up.skipped.len(), 1);
        assert!(!dir.join("tree/a/link").exists());
        // The server side has a symlink of its own, pointing out of the tree.
        std::os::unix::fs::symlink("/etc/passwd", dir.join("tree/a/out")).unwrap();
        let back = local.join("back");
        let down = sftp
            .download_tree(&remote, &back, &TransferOptions::default(), None)
            .await
            .unwrap();
        assert_eq!((down.files, down.dirs), (3, 5), "{down:?}");
        assert_eq!(down.skipped.len(), 1, "{:?}", down.skipped);
        assert!(fs::symlink_metadata(back.join("a/out")).is_err());
        assert_eq!(
            file_sha256(&back.join("a/b/mid.bin")),
            pattern_sha256(3_000_001, 5)
        );
        assert_eq!(fs::read(back.join("top")).unwrap(), b"top");
        assert!(back.join("empty-dir").is_dir() && back.join("a/b/c/zero").is_file());
        // Followed on request: the link's file is copied as a file.
        let opts = TransferOptions {
            follow_symlinks: true,
            ..Default::default()
        };
        let followed = local.join("followed");
        let f = sftp
            .download_tree(&remote, &followed, &opts, None)
            .await
            .unwrap();
        assert_eq!(f.files, 4);
        assert!(fs::symlink_metadata(followed.join("a/out"))
            .unwrap()
            .is_file());
    });
}

/// A `conchd` serving `root` over SFTP, with an OpenSSH key to log in.
struct Conchd {
    process: ServerProcess,
    host_key: KeyPair,
    user_key: KeyPair,
    dir: TestDir,
    known_hosts: PathBuf,
}

impl Conchd {
    fn start(root: &Path) -> Self {
        let binary = workspace_bin("conch-cli", "conchd");
        let dir = TestDir::new("conchd-sftp");
        let host_key = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
        let user_key = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
        let authorized = dir.write("authorized_keys", format!("{}\n", user_key.public_line));
        let root = root.to_path_buf();
        let process = ServerProcess::start("conchd", |port| {
            let mut command = Command::new(&binary);
            command
                .args(["-p", &port.to_string(), "--host-key"])
                .arg(&host_key.private_path)
                .arg("--authorized-keys")
                .arg(&authorized)
                .arg("--sftp-root")
                .arg(&root);
            command
        });
        let line = host_key.known_hosts_line(&host_pattern_for("127.0.0.1", process.port()));
        let known_hosts = dir.write("known_hosts", format!("{line}\n"));
        Conchd {
            process,
            host_key,
            user_key,
            dir,
            known_hosts,
        }
    }

    /// OpenSSH options for `sftp` and `scp`.
    fn openssh_args(&self, command: &mut Command) {
        command
            .arg("-P")
            .arg(self.process.port().to_string())
            .arg("-i")
            .arg(&self.user_key.private_path)
            .args([
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .args([
                "-o",
                "IdentityAgent=none",
                "-o",
                "StrictHostKeyChecking=yes",
            ])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()));
    }

    fn sftp_batch(&self, batch: &str) -> conch_interop::Finished {
        self.sftp_batch_of(OpenSsh::System, batch)
    }

    /// `sftp -b` of `openssh`, which runs that version's `ssh` (`-S`; sftp
    /// would run the one it was built with, /usr/bin/ssh).
    fn sftp_batch_of(&self, openssh: OpenSsh, batch: &str) -> conch_interop::Finished {
        let file = self.dir.write("batch", batch);
        let mut c = Command::new(openssh.program("sftp"));
        if openssh != OpenSsh::System {
            openssh.require();
            c.arg("-S").arg(openssh.ssh());
        }
        self.openssh_args(&mut c);
        c.arg("-b").arg(&file).arg("127.0.0.1");
        run_bounded(&mut c, Input::Null, STEP)
    }

    fn scp(&self, args: &[&str]) -> conch_interop::Finished {
        let mut c = Command::new("scp");
        self.openssh_args(&mut c);
        c.args(args);
        run_bounded(&mut c, Input::Null, STEP)
    }

    fn conch_scp(&self, args: &[&str]) -> conch_interop::Finished {
        let mut c = Command::new(workspace_bin("conch-cli", "conch"));
        c.arg("scp")
            .arg("-P")
            .arg(self.process.port().to_string())
            .arg("-i")
            .arg(&self.user_key.private_path)
            .args([
                "-F",
                "none",
                "--no-agent",
                "-o",
                "StrictHostKeyChecking=yes",
            ])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(args);
        run_bounded(&mut c, Input::Null, STEP)
    }

    fn conch_sftp(&self, batch: &str) -> conch_interop::Finished {
        conch_sftp_batch(
            &self.dir,
            self.process.port(),
            &self.user_key,
            &self.known_hosts,
            "127.0.0.1",
            batch,
        )
    }
}

/// `conch sftp -b` with a batch file, a key and a known_hosts file.
fn conch_sftp_batch(
    dir: &TestDir,
    port: u16,
    key: &KeyPair,
    known_hosts: &Path,
    destination: &str,
    batch: &str,
) -> conch_interop::Finished {
    let file = dir.write("conch-batch", batch);
    let mut c = Command::new(workspace_bin("conch-cli", "conch"));
    c.args(["sftp", "-b"])
        .arg(&file)
        .arg("-P")
        .arg(port.to_string())
        .arg("-i")
        .arg(&key.private_path)
        .args([
            "-F",
            "none",
            "--no-agent",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .arg(destination);
    run_bounded(&mut c, Input::Null, STEP)
}

/// Globs in get/put/rm/chmod/ls, `ls -l` and `ls -a` from `conch sftp`
/// against a server whose directory `base` (as the client names it) is
/// `real` on disk.
fn globs_and_listings(base: &str, real: &Path, run: impl Fn(&str) -> conch_interop::Finished) {
    for (name, body) in [
        ("a1.txt", "one"),
        ("a2.txt", "two"),
        ("b.bin", "bin"),
        (".hidden.txt", "h"),
    ] {
        fs::write(real.join(name), body).unwrap();
    }
    fs::create_dir(real.join("sub")).unwrap();
    let local = TestDir::new("sftp-glob-local");
    fs::create_dir(local.join("got")).unwrap();
    for name in ["l1.dat", "l2.dat", "keep.txt"] {
        fs::write(local.join(name), name).unwrap();
    }
    let l = s(local.path());
    let out = run(&format!(
        "cd {base}\nls\nls -a\nls -l\nls *.txt\nget a?.txt {l}/got\nput {l}/l*.dat\n\
         chmod 600 *.dat\nrm a*.txt\n-rm nomatch*\n"
    ));
    out.assert_success();
    let stdout = out.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    // Not a terminal: one name a line; hidden names only with -a.
    let at = |line: &str| lines.iter().position(|l| *l == line);
    assert!(at("a1.txt").is_some() && at("sub").is_some(), "{stdout}");
    assert_eq!(
        lines.iter().filter(|l| **l == ".hidden.txt").count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        lines.iter().filter(|l| **l == "a1.txt").count(),
        3,
        "{stdout}"
    );
    let long = |name: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().last() == Some(name) && l.len() > 30)
            .unwrap_or_else(|| panic!("no ls -l line for {name}: {stdout}"))
            .to_string()
    };
    assert!(long("sub").starts_with('d'), "{stdout}");
    assert!(long("b.bin").starts_with("-rw"), "{stdout}");
    assert!(long("b.bin").contains(" 3 "), "size in {}", long("b.bin"));
    let join = |n: &str| format!("{}/{n}", base.trim_end_matches('/'));
    assert!(
        stdout.contains(&format!("Removing {}\n", join("a1.txt"))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Changing mode on {}\n", join("l2.dat"))),
        "{stdout}"
    );
    assert!(
        out.stderr_text().contains("not found"),
        "{}",
        out.stderr_text()
    );
    assert_eq!(fs::read(local.join("got/a1.txt")).unwrap(), b"one");
    assert_eq!(fs::read(local.join("got/a2.txt")).unwrap(), b"two");
    assert!(!local.join("got/b.bin").exists());
    use std::os::unix::fs::PermissionsExt;
    for name in ["l1.dat", "l2.dat"] {
        assert_eq!(fs::read(real.join(name)).unwrap(), name.as_bytes());
        let mode = fs::metadata(real.join(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    assert!(!real.join("keep.txt").exists());
    assert!(!real.join("a1.txt").exists() && !real.join("a2.txt").exists());
    assert!(real.join(".hidden.txt").exists() && real.join("b.bin").exists());
}

#[test]
fn conch_sftp_globs_and_listings_against_conchd_and_sshd() {
    let root = TestDir::new("glob-conchd-root");
    let conchd = Conchd::start(root.path());
    globs_and_listings("/", root.path(), |batch| conchd.conch_sftp(batch));

    let sshd = Sshd::start_default();
    let dir = TestDir::new("glob-sshd");
    let known_hosts = sshd.known_hosts_file();
    let real = dir.join("files");
    fs::create_dir(&real).unwrap();
    let destination = format!("{}@127.0.0.1", sshd.login_user());
    globs_and_listings(&s(&real), &real, |batch| {
        conch_sftp_batch(
            &dir,
            sshd.port(),
            sshd.user_key(),
            &known_hosts,
            &destination,
            batch,
        )
    });
}

#[test]
fn openssh_sftp_and_scp_against_conchd() {
    let root = TestDir::new("conchd-root");
    let local = TestDir::new("conchd-local");
    let conchd = Conchd::start(root.path());
    let _ = &conchd.host_key;
    let big = local.join("big.bin");
    // 4 MiB: many packets each way, and quick with a debug conchd.
    let len = 4 * 1024 * 1024;
    write_pattern(&big, len, 23);
    let want = pattern_sha256(len, 23);
    let out = conchd.sftp_batch(&format!(
        "mkdir d\ncd d\nput {big} big.bin\nls -l\nrename big.bin moved.bin\nget moved.bin {back}\n\
         symlink moved.bin link\nchmod 600 moved.bin\n-rm missing\ndf\npwd\n",
        big = big.display(),
        back = local.join("back.bin").display()
    ));
    out.assert_success();
    assert!(
        out.stdout_text().contains("Remote working directory: /d"),
        "{}",
        out.stdout_text()
    );
    assert_eq!(file_sha256(&root.join("d/moved.bin")), want);
    assert_eq!(file_sha256(&local.join("back.bin")), want);
    assert_eq!(
        fs::read_link(root.join("d/link")).unwrap(),
        Path::new("moved.bin")
    );

    // A failing command ends the batch (status 1), the next never runs.
    let out = conchd.sftp_batch("get /d/missing /dev/null\nmkdir after\n");
    assert_eq!(out.code(), Some(1), "{}", out.stderr_text());
    assert!(!root.join("after").exists());

    // scp (SFTP underneath in OpenSSH 9), files and -r trees.
    fs::create_dir_all(local.join("tree/sub")).unwrap();
    fs::write(local.join("tree/sub/x"), b"x").unwrap();
    conchd
        .scp(&[big.to_str().unwrap(), "127.0.0.1:/scp.bin"])
        .assert_success();
    assert_eq!(file_sha256(&root.join("scp.bin")), want);
    conchd
        .scp(&[
            "127.0.0.1:/scp.bin",
            local.join("scp-back.bin").to_str().unwrap(),
        ])
        .assert_success();
    assert_eq!(file_sha256(&local.join("scp-back.bin")), want);
    conchd
        .scp(&["-r", local.join("tree").to_str().unwrap(), "127.0.0.1:/"])
        .assert_success();
    assert_eq!(fs::read(root.join("tree/sub/x")).unwrap(), b"x");
}

/// OpenSSH 10's `sftp` against `conchd`: a file up and back, byte-exact.
#[test]
fn openssh_10_sftp_against_conchd() {
    let root = TestDir::new("conchd10-root");
    let local = TestDir::new("conchd10-local");
    let conchd = Conchd::start(root.path());
    let file = local.join("up.bin");
    let len = 1024 * 1024;
    write_pattern(&file, len, 31);
    let out = conchd.sftp_batch_of(
        OpenSsh::V10,
        &format!(
            "put {file} up.bin\nget up.bin {back}\n",
            file = file.display(),
            back = local.join("back.bin").display()
        ),
    );
    out.assert_success();
    let want = pattern_sha256(len, 31);
    assert_eq!(file_sha256(&root.join("up.bin")), want);
    assert_eq!(file_sha256(&local.join("back.bin")), want);
}

#[test]
fn conch_sftp_against_conchd_and_escapes_refused() {
    let outer = TestDir::new("conchd-outer");
    let root = outer.join("root");
    fs::create_dir(&root).unwrap();
    fs::write(outer.join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink("../secret", root.join("up")).unwrap();
    let local = TestDir::new("conch-sftp-local");
    let conchd = Conchd::start(&root);
    let file = local.join("f.bin");
    write_pattern(&file, 1_000_000, 3);
    let l = |name: &str| local.join(name).display().to_string();
    let out = conchd.conch_sftp(&format!(
        "put {f}\nget f.bin {back}\n-get ../secret {e1}\n-get /../../secret {e2}\n-get up {e3}\n\
         cd ..\npwd\nln -s /etc/passwd pw\n-get pw {e4}\nmkdir sub\nrename f.bin sub/g.bin\nls sub\n",
        f = file.display(),
        back = l("back.bin"),
        e1 = l("e1"),
        e2 = l("e2"),
        e3 = l("e3"),
        e4 = l("e4"),
    ));
    out.assert_success();
    let stdout = out.stdout_text();
    assert!(stdout.contains("Remote working directory: /\n"), "{stdout}");
    assert!(stdout.contains("g.bin"), "{stdout}");
    assert_eq!(
        file_sha256(&local.join("back.bin")),
        pattern_sha256(1_000_000, 3)
    );
    for escaped in ["e1", "e2", "e3", "e4"] {
        assert!(!local.join(escaped).exists(), "{escaped} was fetched");
    }
    // `..` stops at the root (e1, e2: no such file there); a symlink
    // leading out is refused (e3, e4).
    assert_eq!(
        out.stderr_text().matches("No such file").count(),
        2,
        "{}",
        out.stderr_text()
    );
    assert_eq!(
        out.stderr_text()
            .matches("path leads outside the served directory")
            .count(),
        2,
        "{}",
        out.stderr_text()
    );
    assert_eq!(fs::read(outer.join("secret")).unwrap(), b"secret");
    assert!(root.join("sub/g.bin").is_file());

    // And in batch mode a failure without '-' ends the session with 1.
    let out = conchd.conch_sftp("rm nothing\nmkdir never\n");
    assert_eq!(out.code(), Some(1));
    assert!(!root.join("never").exists());

    // conch scp: up, down, a tree, and remote to remote through us.
    let want = pattern_sha256(1_000_000, 3);
    conchd
        .conch_scp(&[&l("f.bin"), "127.0.0.1:/scp.bin"])
        .assert_success();
    assert_eq!(file_sha256(&root.join("scp.bin")), want);
    conchd
        .conch_scp(&["127.0.0.1:scp.bin", &l("scp-back.bin")])
        .assert_success();
    assert_eq!(file_sha256(&local.join("scp-back.bin")), want);
    conchd
        .conch_scp(&["127.0.0.1:/scp.bin", "127.0.0.1:/sub/r2r.bin"])
        .assert_success();
    assert_eq!(file_sha256(&root.join("sub/r2r.bin")), want);
    conchd
        .conch_scp(&["-r", "127.0.0.1:/sub", &l("")])
        .assert_success();
    assert_eq!(file_sha256(&local.join("sub/g.bin")), want);
    let out = conchd.conch_scp(&["127.0.0.1:/../secret", &l("stolen")]);
    assert_eq!(out.code(), Some(1));
    assert!(!local.join("stolen").exists());
}
