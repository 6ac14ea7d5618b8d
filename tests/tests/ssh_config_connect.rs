//! What ssh_config options do when `conch` connects, against OpenSSH's
//! sshd (and a listener that never speaks): ConnectTimeout over the banner
//! exchange, ProxyCommand through `nc`, host key algorithms ordered by the
//! key types known for the host, CheckHostIP with the address connected
//! to, and `UserKnownHostsFile=/dev/null`. Every run is bounded; HOME is a
//! scratch directory and every case uses `-F`, so the real ~/.ssh is never
//! read.

use conch_interop::process::require_program;
use conch_interop::{
    run_bounded, workspace_bin, Finished, Input, KeyType, Sshd, SshdOptions, TestDir,
};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// Runs `conch -F config ARGS...` in batch mode with HOME at `dir`.
fn conch(dir: &TestDir, config: &Path, args: &[&str]) -> Finished {
    conch_with_input(dir, config, args, Input::Null)
}

/// [`conch`] with this standard input.
fn conch_with_input(dir: &TestDir, config: &Path, args: &[&str], input: Input) -> Finished {
    let mut c = Command::new(workspace_bin("conch-cli", "conch"));
    c.arg("-F")
        .arg(config)
        .args(["-o", "BatchMode=yes", "--no-agent"])
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .env("HOME", dir.path());
    run_bounded(&mut c, input, LIMIT)
}

/// An alias for `sshd` with the test user and key.
fn alias_config(dir: &TestDir, sshd: &Sshd, extra: &str) -> std::path::PathBuf {
    dir.write(
        "config",
        format!(
            "Host target\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n{extra}",
            sshd.port(),
            sshd.login_user(),
            sshd.user_key().private_path.display()
        ),
    )
}

/// As ssh: ConnectTimeout also bounds the banner exchange, so a server
/// that accepts the connection and never speaks is given up on after
/// ConnectTimeout seconds, with ssh's words; then the key exchange.
#[test]
fn connect_timeout_bounds_the_banner_exchange() {
    // Built (if need be) before any clock starts.
    workspace_bin("conch-cli", "conch");
    let dir = TestDir::new("cfg-banner-timeout");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // Accepts (the kernel completes the handshake) and never answers.
    let config = dir.write("config", "");
    let started = Instant::now();
    let out = conch(
        &dir,
        &config,
        &["-o", "ConnectTimeout=2", "-p", &port, "127.0.0.1", "true"],
    );
    let took = started.elapsed();
    out.assert_code(255);
    let err = out.stderr_text();
    assert!(
        err.contains("Connection timed out during banner exchange"),
        "{err}"
    );
    assert!(
        err.contains(&format!("Connection to 127.0.0.1 port {port} timed out")),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
        "gave up after {took:?}"
    );
    drop(listener);

    // A server that sends its identification and then nothing: conch also
    // bounds the key exchange up to the host key (ssh 9.2 itself would
    // wait there for its ServerAlive or the TCP timeout).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let speaker = std::thread::spawn(move || {
        use std::io::Write;
        let (mut peer, _) = listener.accept().unwrap();
        peer.write_all(b"SSH-2.0-Silent_1.0\r\n").unwrap();
        // Held open until conch gives up (it closes its end).
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut peer, &mut sink);
    });
    let started = Instant::now();
    let out = conch(
        &dir,
        &config,
        &["-o", "ConnectTimeout=2", "-p", &port, "127.0.0.1", "true"],
    );
    let took = started.elapsed();
    out.assert_code(255);
    assert!(
        out.stderr_text()
            .contains("Connection timed out during key exchange"),
        "{}",
        out.stderr_text()
    );
    assert!(took < Duration::from_secs(8), "gave up after {took:?}");
    speaker.join().unwrap();
}

/// ProxyCommand: the connection is `nc %h %p`'s stdin and stdout.
#[test]
fn proxy_command_through_nc() {
    require_program("nc", "netcat-openbsd");
    let sshd = Sshd::start_default();
    let dir = TestDir::new("cfg-proxy");
    // The alias's HostName is a name nc resolves, the port the real one:
    // conch itself never makes a TCP connection.
    let config = alias_config(&dir, &sshd, "  ProxyCommand nc %h %p\n");
    let kh = sshd.known_hosts_file();
    let out = conch(
        &dir,
        &config,
        &[
            "-o",
            &format!("UserKnownHostsFile={}", kh.display()),
            "target",
            "echo via-proxy",
        ],
    );
    out.assert_success();
    assert_eq!(out.stdout_text().trim(), "via-proxy");
    // A proxy command that cannot connect ends the connection: no hang.
    let config = dir.write(
        "config2",
        format!(
            "Host broken\n  ProxyCommand exit 1\n  User {}\n",
            sshd.login_user()
        ),
    );
    let out = conch(&dir, &config, &["broken", "true"]);
    out.assert_code(255);
}

/// A host known only by its ECDSA key is asked for that key type first,
/// so strict checking accepts it although conch prefers Ed25519.
#[test]
fn a_host_known_by_its_ecdsa_key_only_is_accepted() {
    let sshd = Sshd::start(SshdOptions {
        host_key_types: vec![KeyType::Ed25519, KeyType::EcdsaP256],
        ..SshdOptions::default()
    });
    let dir = TestDir::new("cfg-ecdsa-known");
    let ecdsa = sshd
        .host_key(KeyType::EcdsaP256)
        .known_hosts_line(&format!("[127.0.0.1]:{}", sshd.port()));
    let kh = dir.write("known_hosts", format!("{ecdsa}\n"));
    let config = alias_config(&dir, &sshd, "");
    let out = conch(
        &dir,
        &config,
        &[
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            &format!("UserKnownHostsFile={}", kh.display()),
            "target",
            "echo ok",
        ],
    );
    out.assert_success();
    assert_eq!(out.stdout_text().trim(), "ok");
    // Told to use Ed25519 only, the same host is unknown: refused.
    let out = conch(
        &dir,
        &config,
        &[
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "HostKeyAlgorithms=ssh-ed25519",
            "-o",
            &format!("UserKnownHostsFile={}", kh.display()),
            "target",
            "true",
        ],
    );
    out.assert_code(255);
    assert!(
        out.stderr_text().contains("Host key verification failed"),
        "{}",
        out.stderr_text()
    );
}

/// CheckHostIP over loopback, with ssh as the oracle: ssh does not check
/// or record a local address (sshconnect.c `check_host_key` turns
/// CheckHostIP off for it), and neither does conch, although the address
/// reaches the verifier (the driver's `the_verifier_sees_the_address_
/// connected_to` and conch-openssh's `check_host_ip_uses_the_address_
/// connected_to` cover a routable one). The host is found by name.
#[test]
fn check_host_ip_on_loopback_is_as_ssh() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("cfg-checkhostip");
    let port = sshd.port();
    let line = sshd.host_keys()[0].known_hosts_line(&format!("[localhost]:{port}"));
    let kh = dir.write("known_hosts", format!("{line}\n"));
    let config = dir.write(
        "config",
        format!(
            "Host byname\n  HostName localhost\n  AddressFamily inet\n  Port {port}\n  User {}\n  IdentityFile {}\n  HashKnownHosts no\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  CheckHostIP yes\n",
            sshd.login_user(),
            sshd.user_key().private_path.display(),
            kh.display()
        ),
    );
    let out = conch(&dir, &config, &["byname", "echo conch"]);
    out.assert_success();
    assert_eq!(out.stdout_text().trim(), "conch");
    let after_conch = std::fs::read_to_string(&kh).unwrap();
    let mut ssh = Command::new("ssh");
    ssh.arg("-F")
        .arg(&config)
        .args(["-o", "BatchMode=yes", "byname", "echo ssh"])
        .env("HOME", dir.path());
    let out = run_bounded(&mut ssh, Input::Null, LIMIT);
    out.assert_success();
    let after_ssh = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(after_conch, format!("{line}\n"));
    assert_eq!(after_ssh, after_conch, "ssh recorded what conch did not");
}

/// `UserKnownHostsFile=/dev/null` with `StrictHostKeyChecking=no`, the
/// usual throw-away idiom: the login works and saving the key says what
/// ssh says, with no error about /dev/null.
#[test]
fn dev_null_known_hosts_is_quiet() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("cfg-devnull");
    let config = alias_config(&dir, &sshd, "");
    let out = conch(
        &dir,
        &config,
        &[
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "target",
            "echo fine",
        ],
    );
    out.assert_success();
    assert_eq!(out.stdout_text().trim(), "fine");
    let err = out.stderr_text();
    assert!(!err.contains("Failed to add"), "{err}");
    assert!(err.contains("Permanently added"), "{err}");
    // LogLevel QUIET (as -q) leaves the notice out.
    let out = conch(
        &dir,
        &config,
        &[
            "-o",
            "LogLevel=QUIET",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "target",
            "true",
        ],
    );
    out.assert_success();
    assert!(out.stderr_text().is_empty(), "{}", out.stderr_text());
}

/// The library API: an alias resolved into a `HostConfig` connects with
/// conch-tokio, conch-blocking and a command endpoint, directly and
/// through a ProxyCommand, host keys checked strictly against the
/// configured known_hosts file.
#[test]
fn host_config_connects_with_the_adapters() {
    use conch_openssh::ssh_config::{LoadOptions, SshConfig};
    use conch_openssh::{HostConfig, NoUi};
    use std::io::Read;
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    require_program("nc", "netcat-openbsd");
    let sshd = Sshd::start_default();
    let dir = TestDir::new("cfg-library");
    let common = format!(
        "  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  IdentityAgent none\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  ConnectTimeout 5\n",
        sshd.port(),
        sshd.login_user(),
        sshd.user_key().private_path.display(),
        sshd.known_hosts_file().display()
    );
    let config = dir.write(
        "config",
        format!("Host direct\n{common}Host proxied\n{common}  ProxyCommand nc %h %p\n"),
    );
    let host = |alias: &str| {
        let load = LoadOptions::isolated(dir.path()).with_file(&config);
        let resolved = SshConfig::load(alias, &load).unwrap();
        HostConfig::from_resolved(resolved, Arc::new(NoUi)).unwrap()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for alias in ["direct", "proxied"] {
        let h = host(alias);
        // conch-blocking.
        let session = conch_blocking::connect(h.hostname(), h.port(), h.options()).unwrap();
        session.authenticate(h.user(), h.auth_methods()).unwrap();
        let mut out = String::new();
        let mut channel = session.exec(format!("echo blocking-{alias}")).unwrap();
        channel.read_to_string(&mut out).unwrap();
        assert_eq!(out.trim(), format!("blocking-{alias}"));
        // conch-tokio, and a command endpoint on it.
        runtime.block_on(async {
            let step = Duration::from_secs(15);
            let session = tokio::time::timeout(
                step,
                conch_tokio::connect(h.hostname(), h.port(), h.options()),
            )
            .await
            .unwrap()
            .unwrap();
            session
                .authenticate(h.user(), h.auth_methods())
                .await
                .unwrap();
            let mut channel = session.exec(format!("echo tokio-{alias}")).await.unwrap();
            let mut out = String::new();
            channel.read_to_string(&mut out).await.unwrap();
            assert_eq!(out.trim(), format!("tokio-{alias}"));
            let endpoint = h.endpoint::<conch_tokio::Tokio>(format!("echo endpoint-{alias}"));
            let mut channel = tokio::time::timeout(step, endpoint.connect())
                .await
                .unwrap()
                .unwrap();
            let mut out = String::new();
            channel.read_to_string(&mut out).await.unwrap();
            assert_eq!(out.trim(), format!("endpoint-{alias}"));
        });
    }
}

/// Ciphers, MACs, KexAlgorithms, RekeyLimit and ServerAliveInterval given
/// with `-o` reach the connection: sshd's log shows the algorithms
/// negotiated, the client's keepalives and the re-exchanges.
#[test]
fn algorithms_rekeying_and_keepalives_reach_the_connection() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("cfg-algorithms");
    let config = alias_config(&dir, &sshd, "");
    let kh = sshd.known_hosts_file();
    // 400 kB sent: the client's own limit decides its re-exchanges (what
    // it receives, the server may send on until our KEXINIT arrives).
    let out = conch_with_input(
        &dir,
        &config,
        &[
            "-o",
            &format!("UserKnownHostsFile={}", kh.display()),
            "-o",
            "Ciphers=aes128-ctr",
            "-o",
            "MACs=hmac-sha2-256",
            "-o",
            "KexAlgorithms=curve25519-sha256",
            "-o",
            "RekeyLimit=64K",
            "-o",
            "ServerAliveInterval=1",
            "target",
            "sleep 2.5; wc -c",
        ],
        Input::Bytes(vec![b'x'; 400_000]),
    );
    out.assert_success();
    assert_eq!(out.stdout_text().trim(), "400000");
    let wait = Duration::from_secs(5);
    sshd.assert_log_contains("kex: algorithm: curve25519-sha256", wait);
    sshd.assert_log_contains("cipher: aes128-ctr MAC: hmac-sha2-256 ", wait);
    sshd.assert_log_contains("rtype keepalive@openssh.com", wait);
    // About one per 64 kB; the default limit (1 GiB) would leave the
    // first exchange alone.
    assert!(
        sshd.key_exchanges() >= 5,
        "RekeyLimit=64K over 400 kB: {} key exchanges",
        sshd.key_exchanges()
    );
}

/// ConnectionAttempts: a refused connection is tried again a second
/// later, as ssh does; AddressFamily keeps the addresses of its family
/// (none of an IPv4 literal under `inet6`).
#[test]
fn connection_attempts_and_address_family() {
    workspace_bin("conch-cli", "conch");
    let dir = TestDir::new("cfg-attempts");
    let config = dir.write("config", "");
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let run = |attempts: &str| {
        let started = Instant::now();
        let out = conch(
            &dir,
            &config,
            &[
                "-o",
                &format!("ConnectionAttempts={attempts}"),
                "-p",
                &port,
                "127.0.0.1",
                "true",
            ],
        );
        out.assert_code(255);
        assert!(
            out.stderr_text().contains("Connection refused"),
            "{}",
            out.stderr_text()
        );
        started.elapsed()
    };
    assert!(
        run("1") < Duration::from_millis(1500),
        "one attempt does not wait"
    );
    let twice = run("3");
    assert!(
        twice >= Duration::from_millis(1900) && twice < Duration::from_secs(8),
        "three attempts a second apart took {twice:?}"
    );
    let out = conch(
        &dir,
        &config,
        &[
            "-o",
            "AddressFamily=inet6",
            "-p",
            &port,
            "127.0.0.1",
            "true",
        ],
    );
    out.assert_code(255);
    assert!(
        out.stderr_text()
            .contains("Could not resolve hostname 127.0.0.1"),
        "{}",
        out.stderr_text()
    );
}
