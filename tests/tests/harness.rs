//! Self-tests of the interop harness: OpenSSH's own `ssh` against the peers
//! the harness starts. If these fail, the Conch interop tests cannot be
//! trusted either; if they pass, a failing Conch test is Conch's fault.

use std::fs;
use std::process::Command;
use std::time::Duration;

use conch_interop::known_hosts::{
    hash_known_hosts, host_pattern, keyscan, openssh_lookup, write_known_hosts,
};
use conch_interop::process::require_program;
use conch_interop::{
    pattern_sha256, run_bounded, sha256_hex, test_user, Dropbear, DropbearOptions, Input, KeyPair,
    KeyType, PatternReader, ServerProcess, SshAgent, SshClient, Sshd, SshdOptions, TestDir,
    ENCRYPTED_KEY_PASSPHRASE, TEST_PASSWORD, TEST_USER,
};

const LOG_WAIT: Duration = Duration::from_secs(5);

#[test]
fn ssh_logs_into_sshd_with_the_generated_key_and_runs_a_command() {
    let sshd = Sshd::start_default();
    let out = sshd.ssh_client().run("echo hi");
    out.assert_success();
    assert_eq!(out.stdout_text(), "hi\n");
    sshd.assert_log_contains(
        &format!("Accepted publickey for {}", sshd.login_user()),
        LOG_WAIT,
    );
}

#[test]
fn remote_exit_status_stdout_and_stderr_come_back_separately() {
    let sshd = Sshd::start_default();
    let out = sshd
        .ssh_client()
        .run_with_input("cat; echo to-stderr >&2; exit 7", "from stdin\n");
    out.assert_code(7);
    assert_eq!(out.stdout_text(), "from stdin\n");
    assert_eq!(out.stderr_text(), "to-stderr\n");
}

#[test]
fn ssh_refuses_a_server_whose_host_key_is_not_the_trusted_one() {
    let trusted = Sshd::start_default();
    let impostor = Sshd::start_default();
    // The impostor's port, but the other server's key in known_hosts.
    let out = impostor
        .ssh_client()
        .known_hosts_file(&trusted.dir().join("nothing-here"))
        .trust_host_key(trusted.host_key(KeyType::Ed25519))
        .run("echo should-not-run");
    out.assert_code(255);
    assert!(out.stdout.is_empty(), "{out}");
    assert!(
        out.stderr_text()
            .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{out}"
    );
}

#[test]
fn an_unauthorized_key_is_refused() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("stranger");
    let stranger = KeyPair::generate(&dir, "stranger", KeyType::Ed25519, None);
    let client = SshClient::new(sshd.port())
        .identity(&stranger)
        .trust_host_key(sshd.host_key(KeyType::Ed25519));
    let out = client.run("echo should-not-run");
    out.assert_code(255);
    assert!(out.stderr_text().contains("Permission denied"), "{out}");
}

#[test]
fn password_login_as_the_test_user() {
    let sshd = Sshd::start(SshdOptions {
        password_auth: true,
        ..SshdOptions::default()
    });
    let user = test_user();
    let password_client = |password: &str| {
        sshd.ssh_client()
            .user(&user.name)
            .option("PreferredAuthentications=password")
            .option("PubkeyAuthentication=no")
            .password(password)
    };

    let wrong = password_client("not-the-password").run("echo should-not-run");
    wrong.assert_code(255);

    let out = password_client(TEST_PASSWORD).run("id -un");
    out.assert_success();
    assert_eq!(out.stdout_text(), format!("{TEST_USER}\n"));
    sshd.assert_log_contains(&format!("Accepted password for {TEST_USER}"), LOG_WAIT);
}

#[test]
fn keyboard_interactive_login_through_pam() {
    let sshd = Sshd::start(SshdOptions {
        kbd_interactive_auth: true,
        pubkey_auth: false,
        ..SshdOptions::default()
    });
    let out = sshd
        .ssh_client()
        .user(TEST_USER)
        .option("PreferredAuthentications=keyboard-interactive")
        .password(TEST_PASSWORD)
        .run("id -un");
    out.assert_success();
    assert_eq!(out.stdout_text(), format!("{TEST_USER}\n"));
    sshd.assert_log_contains(
        &format!("Accepted keyboard-interactive/pam for {TEST_USER}"),
        LOG_WAIT,
    );
}

#[test]
fn public_key_login_as_the_test_user_reads_the_harness_authorized_keys() {
    // sshd reads AuthorizedKeysFile as the login user: the temp dir must be
    // readable by the test user, not only by the user running the tests.
    let sshd = Sshd::start_default();
    let out = sshd.ssh_client().user(TEST_USER).run("id -un");
    out.assert_success();
    assert_eq!(out.stdout_text(), format!("{TEST_USER}\n"));
}

#[test]
fn login_with_an_encrypted_key_answers_its_passphrase() {
    let sshd = Sshd::start_default();
    let key = sshd.encrypted_user_key();
    assert_eq!(key.passphrase.as_deref(), Some(ENCRYPTED_KEY_PASSPHRASE));
    let private = fs::read_to_string(&key.private_path).unwrap();
    assert!(private.contains("BEGIN OPENSSH PRIVATE KEY"));

    // Without the passphrase (batch mode, no askpass) the key is unusable.
    let mut unusable = key.clone();
    unusable.passphrase = None;
    let refused = SshClient::new(sshd.port())
        .identity(&unusable)
        .trust_host_key(sshd.host_key(KeyType::Ed25519))
        .run("echo should-not-run");
    refused.assert_code(255);

    let out = SshClient::new(sshd.port())
        .identity(key)
        .trust_host_key(sshd.host_key(KeyType::Ed25519))
        .run("echo unlocked");
    out.assert_success();
    assert_eq!(out.stdout_text(), "unlocked\n");
}

#[test]
fn ssh_authenticates_through_a_real_agent() {
    let sshd = Sshd::start_default();
    let agent = SshAgent::start();
    assert!(agent.identities().is_empty());

    let agent_client = || {
        SshClient::new(sshd.port())
            .agent(&agent)
            .trust_host_key(sshd.host_key(KeyType::Ed25519))
            .server_log(sshd.log_path())
    };
    // An empty agent: no key to offer, so the login fails...
    agent_client().run("echo should-not-run").assert_code(255);

    // ...and succeeds once the agent holds the key (added encrypted, so the
    // passphrase went through ssh-add's askpass).
    agent.add(sshd.encrypted_user_key());
    let held = agent.identities();
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].starts_with(&sshd.encrypted_user_key().public_key()));
    let out = agent_client().run("echo via-agent");
    out.assert_success();
    assert_eq!(out.stdout_text(), "via-agent\n");
    sshd.assert_log_contains("Accepted publickey for", LOG_WAIT);
}

#[test]
fn bulk_data_through_cat_on_sshd_is_intact() {
    const LEN: u64 = 32 << 20;
    let sshd = Sshd::start_default();
    let out = sshd
        .ssh_client()
        .run_with_input("cat", Input::Reader(Box::new(PatternReader::new(LEN, 1))));
    out.assert_success();
    assert_eq!(out.stdout.len() as u64, LEN);
    assert_eq!(sha256_hex(&out.stdout), pattern_sha256(LEN, 1));
}

#[test]
fn a_small_rekey_limit_makes_sshd_rekey_during_a_transfer() {
    const LEN: u64 = 8 << 20;
    let sshd = Sshd::start(SshdOptions {
        rekey_limit: Some("1M".into()),
        ..SshdOptions::default()
    });
    let out = sshd
        .ssh_client()
        .run_with_input("cat", Input::Reader(Box::new(PatternReader::new(LEN, 2))));
    out.assert_success();
    assert_eq!(sha256_hex(&out.stdout), pattern_sha256(LEN, 2));
    // One key exchange at connect, then one per MiB or so.
    let rekeys = sshd.key_exchanges();
    assert!(
        rekeys >= 4,
        "only {rekeys} key exchanges\n{}",
        sshd.log_tail(40)
    );
}

#[test]
fn forced_algorithms_and_non_ed25519_keys_are_negotiated() {
    let cases = [
        (
            KeyType::Rsa,
            "rsa-sha2-512",
            "diffie-hellman-group14-sha256",
            "aes128-ctr",
            "hmac-sha2-256",
        ),
        (
            KeyType::EcdsaP256,
            "ecdsa-sha2-nistp256",
            "ecdh-sha2-nistp256",
            "chacha20-poly1305@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
        ),
    ];
    for (key_type, host_key_algorithm, kex, cipher, mac) in cases {
        let sshd = Sshd::start(SshdOptions {
            host_key_types: vec![key_type],
            extra_user_key_types: vec![key_type],
            kex_algorithms: Some(kex.into()),
            ciphers: Some(cipher.into()),
            macs: Some(mac.into()),
            host_key_algorithms: Some(host_key_algorithm.into()),
            pubkey_accepted_algorithms: Some(format!("{host_key_algorithm},ssh-ed25519")),
            ..SshdOptions::default()
        });
        let out = SshClient::new(sshd.port())
            .identity(sshd.user_key_of(key_type))
            .trust_host_key(sshd.host_key(key_type))
            .server_log(sshd.log_path())
            .run("echo negotiated");
        out.assert_success();
        let log = sshd.log();
        for needle in [
            format!("kex: algorithm: {kex}"),
            format!("kex: host key algorithm: {host_key_algorithm}"),
            format!("Accepted publickey for {}", sshd.login_user()),
        ] {
            assert!(
                log.contains(&needle),
                "no {needle:?}\n{}",
                sshd.log_tail(60)
            );
        }
        let cipher_line = format!("kex: client->server cipher: {cipher}");
        assert!(
            log.contains(&cipher_line),
            "no {cipher_line:?}\n{}",
            sshd.log_tail(60)
        );
    }
}

#[test]
fn known_hosts_files_written_by_openssh_tools_are_accepted_by_ssh() {
    let sshd = Sshd::start(SshdOptions {
        host_key_types: vec![KeyType::Ed25519, KeyType::EcdsaP256],
        ..SshdOptions::default()
    });
    let dir = TestDir::new("known-hosts");
    let host = host_pattern(sshd.port());

    // ssh-keyscan, plain, then hashed in place by ssh-keygen -H.
    let scanned = dir.join("scanned");
    write_known_hosts(&scanned, &keyscan(sshd.port(), KeyType::Ed25519, false));
    let plain = fs::read_to_string(&scanned).unwrap();
    assert!(
        plain.starts_with(&format!("{host} ssh-ed25519 ")),
        "{plain}"
    );
    hash_known_hosts(&scanned);
    let hashed = fs::read_to_string(&scanned).unwrap();
    assert!(
        hashed.starts_with("|1|") && !hashed.contains(&host),
        "{hashed}"
    );
    assert_eq!(openssh_lookup(&scanned, &host).len(), 1);
    assert!(openssh_lookup(&scanned, "[127.0.0.1]:1").is_empty());
    sshd.ssh_client()
        .known_hosts_file(&scanned)
        .run("true")
        .assert_success();

    // ssh learning the key itself (accept-new), hashed.
    let learned = dir.join("learned");
    sshd.ssh_client()
        .known_hosts_file(&learned)
        .strict_host_key_checking("accept-new")
        .option("HashKnownHosts=yes")
        .run("true")
        .assert_success();
    let learned_text = fs::read_to_string(&learned).unwrap();
    assert!(learned_text.starts_with("|1|"), "{learned_text}");
    assert_eq!(openssh_lookup(&learned, &host).len(), 1);
}

#[test]
fn ssh_logs_into_dropbear_and_bulk_data_is_intact() {
    const LEN: u64 = 16 << 20;
    let dropbear = Dropbear::start(DropbearOptions::default());
    let out = dropbear.ssh_client().run("echo hi; id -un");
    out.assert_success();
    assert_eq!(out.stdout_text(), format!("hi\n{TEST_USER}\n"));

    let out = dropbear
        .ssh_client()
        .run_with_input("cat", Input::Reader(Box::new(PatternReader::new(LEN, 3))));
    out.assert_success();
    assert_eq!(sha256_hex(&out.stdout), pattern_sha256(LEN, 3));

    let out = dropbear.ssh_client().run("echo oops >&2; exit 3");
    out.assert_code(3);
    assert_eq!(out.stderr_text(), "oops\n");
}

#[test]
fn dropbear_password_login_and_key_cleanup() {
    let user = test_user();
    let authorized_keys = user.home.join(".ssh/authorized_keys");
    let dropbear = Dropbear::start(DropbearOptions {
        password_auth: true,
        host_key_types: vec![KeyType::EcdsaP256],
        ..DropbearOptions::default()
    });
    let key = dropbear.user_key().public_key();
    assert!(fs::read_to_string(&authorized_keys).unwrap().contains(&key));

    let out = SshClient::new(dropbear.port())
        .user(dropbear.login_user())
        .trust_host_key(&dropbear.host_keys()[0])
        .option("PreferredAuthentications=password")
        .password(dropbear.password())
        .run("id -un");
    out.assert_success();
    assert_eq!(out.stdout_text(), format!("{TEST_USER}\n"));

    drop(dropbear);
    let left = fs::read_to_string(&authorized_keys).unwrap();
    assert!(!left.contains(&key), "key left behind in {left}");
}

#[test]
#[should_panic(expected = "not installed: run .ci/run")]
fn a_missing_peer_program_fails_with_an_install_hint() {
    require_program("/usr/sbin/no-such-sshd", "openssh-server");
}

#[test]
#[should_panic(expected = "sshd rejects the generated config")]
fn a_config_sshd_rejects_fails_clearly() {
    Sshd::start(SshdOptions {
        ciphers: Some("no-such-cipher".into()),
        ..SshdOptions::default()
    });
}

#[test]
#[should_panic(expected = "timed out after")]
fn a_command_that_hangs_is_killed_at_its_time_bound() {
    run_bounded(
        Command::new("sleep").arg("30"),
        Input::Null,
        Duration::from_millis(300),
    );
}

#[test]
fn a_server_under_test_is_started_on_a_free_port_and_reached_by_ssh() {
    // Stands in for conchd: any server program built from a port number.
    let dir = TestDir::new("server-process");
    let host_key = KeyPair::generate_dropbear(&dir, "host", KeyType::Ed25519);
    let server = ServerProcess::start("dropbear-as-server-under-test", |port| {
        let mut command = Command::new("/usr/sbin/dropbear");
        command
            .args(["-F", "-E", "-s", "-P"])
            .arg(dir.join("pid"))
            .arg("-r")
            .arg(&host_key.private_path)
            .arg("-p")
            .arg(format!("127.0.0.1:{port}"));
        command
    });
    let scanned = keyscan(server.port(), KeyType::Ed25519, false);
    assert_eq!(
        scanned,
        vec![host_key.known_hosts_line(&host_pattern(server.port()))]
    );
    // It has no key of ours and no password logins: ssh reaches it, trusts
    // its host key, and is refused at authentication.
    let out = SshClient::new(server.port())
        .trust_host_key(&host_key)
        .server_log(server.log_path())
        .run("true");
    out.assert_code(255);
    assert!(out.stderr_text().contains("Permission denied"), "{out}");
}

#[test]
#[should_panic(expected = "exited with exit status: 1 before listening")]
fn a_server_that_exits_at_once_fails_clearly() {
    ServerProcess::start("false", |_port| Command::new("false"));
}

#[test]
fn the_known_hosts_file_of_a_server_is_what_ssh_needs() {
    let sshd = Sshd::start_default();
    let known_hosts = sshd.known_hosts_file();
    assert_eq!(
        openssh_lookup(&known_hosts, &host_pattern(sshd.port())),
        sshd.known_hosts_lines()
    );
    SshClient::new(sshd.port())
        .identity(sshd.user_key())
        .known_hosts_file(&known_hosts)
        .run("true")
        .assert_success();
}

#[test]
fn sshd_can_also_listen_on_ipv6_loopback() {
    let sshd = Sshd::start(SshdOptions {
        listen_ipv6_loopback: true,
        ..SshdOptions::default()
    });
    let out = SshClient::new(sshd.port())
        .host("::1")
        .identity(sshd.user_key())
        .trust_host_key(sshd.host_key(KeyType::Ed25519))
        .server_log(sshd.log_path())
        .run("echo $SSH_CONNECTION");
    out.assert_success();
    assert!(out.stdout_text().starts_with("::1 "), "{out}");
}
