use std::time::Duration;

use conch_core::PrivateKey;
use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::NoUi;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("conch-host-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn host(home: &std::path::Path, options: &[(&str, &str)]) -> HostConfig {
    let mut b = SshConfig::builder("db");
    for (k, v) in options {
        b = b.option(k, v);
    }
    let resolved = b.build(&LoadOptions::isolated(home)).unwrap();
    HostConfig::from_resolved(resolved, Arc::new(NoUi)).unwrap()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A host known by one key type is asked for that type first; an RSA key
/// brings its SHA-2 signature algorithms (OpenSSH `order_hostkeyalgs`).
#[test]
fn known_key_types_come_first() {
    let all = names(&[
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "rsa-sha2-512",
        "rsa-sha2-256",
    ]);
    assert_eq!(
        order_host_key_algorithms(&all, &names(&["ecdsa-sha2-nistp256"])),
        names(&[
            "ecdsa-sha2-nistp256",
            "ssh-ed25519",
            "rsa-sha2-512",
            "rsa-sha2-256"
        ])
    );
    assert_eq!(
        order_host_key_algorithms(&all, &names(&["ssh-rsa"])),
        names(&[
            "rsa-sha2-512",
            "rsa-sha2-256",
            "ssh-ed25519",
            "ecdsa-sha2-nistp256"
        ])
    );
    assert_eq!(order_host_key_algorithms(&all, &[]), all);
}

/// The options reach the core's settings and the connect options; the
/// known_hosts file decides the host key order unless HostKeyAlgorithms
/// is set.
#[test]
fn options_reach_the_connection_settings() {
    let home = dir("options");
    let kh = home.join("kh");
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let key = PrivateKey::generate_ed25519(&mut rng).public_key().clone();
    KnownHostsFile::new(&kh)
        .hash_new_entries(false)
        .add("db.example", 2222, &key)
        .unwrap();
    let h = host(
        &home,
        &[
            ("HostName", "db.example"),
            ("Port", "2222"),
            (
                "UserKnownHostsFile",
                &format!("{} /nonexistent/kh2", kh.display()),
            ),
            ("GlobalKnownHostsFile", "none"),
            ("Ciphers", "aes128-ctr"),
            ("MACs", "hmac-sha2-256"),
            ("KexAlgorithms", "curve25519-sha256"),
            ("RekeyLimit", "1M 10m"),
            ("ServerAliveInterval", "5"),
            ("ServerAliveCountMax", "2"),
            ("ConnectTimeout", "2"),
            ("ConnectionAttempts", "3"),
            ("AddressFamily", "inet"),
            ("ProxyCommand", "nc %h %p"),
        ],
    );
    let o = h.options();
    let t = &o.config.transport;
    assert_eq!(t.algorithms.cipher, ["aes128-ctr"]);
    assert_eq!(t.algorithms.mac, ["hmac-sha2-256"]);
    assert_eq!(t.algorithms.kex, ["curve25519-sha256"]);
    assert_eq!(t.rekey_bytes, 1 << 20);
    assert_eq!(t.rekey_interval, Some(Duration::from_secs(600)));
    assert_eq!(t.keepalive_interval, Some(Duration::from_secs(5)));
    assert_eq!(t.keepalive_max, 2);
    assert_eq!(o.connect_timeout, Some(Duration::from_secs(2)));
    assert_eq!(o.connection_attempts, 3);
    assert_eq!(o.address_family, AddressFamily::Inet);
    assert_eq!(o.proxy_command.as_deref(), Some("nc db.example 2222"));
    assert_eq!(h.verifier().file().path(), kh);
    assert_eq!(h.verifier().also_reads().len(), 2);
    // Only an Ed25519 key is known: it is asked for first (it is also
    // conch's first choice; the order test above covers the others).
    assert_eq!(t.algorithms.host_key[0], "ssh-ed25519");
    let h = host(
        &home,
        &[
            ("HostName", "db.example"),
            ("UserKnownHostsFile", &kh.display().to_string()),
            ("HostKeyAlgorithms", "ecdsa-sha2-nistp256,ssh-ed25519"),
        ],
    );
    assert_eq!(
        h.options().config.transport.algorithms.host_key,
        ["ecdsa-sha2-nistp256", "ssh-ed25519"],
        "an explicit list is kept as written"
    );
    std::fs::remove_dir_all(&home).unwrap();
}

/// The authentication switches and PreferredAuthentications give the
/// methods and their order; options whose feature is missing are named.
#[test]
fn authentication_preferences_and_unsupported_options() {
    let home = dir("auth");
    let h = host(&home, &[]);
    assert_eq!(
        h.preferred_authentications(),
        ["publickey", "keyboard-interactive", "password"]
    );
    assert!(h.unsupported().is_empty());
    assert_eq!(
        h.options().config.transport.algorithms.compression,
        ["none"]
    );
    let h = host(
        &home,
        &[
            ("PreferredAuthentications", "password,publickey"),
            ("PubkeyAuthentication", "no"),
            ("Compression", "yes"),
            ("ForwardAgent", "yes"),
        ],
    );
    assert_eq!(h.preferred_authentications(), ["password"]);
    assert!(h.auth_methods().signers.is_empty());
    // ForwardAgent is the program's to act on (conch -A), not unsupported,
    // and Compression yes asks for delayed zlib, then zlib.
    assert!(h.unsupported().is_empty());
    assert_eq!(
        h.options().config.transport.algorithms.compression,
        ["zlib@openssh.com", "zlib", "none"]
    );
    let h = host(&home, &[("UpdateHostKeys", "yes")]);
    assert_eq!(h.unsupported(), ["UpdateHostKeys true"]);
    std::fs::remove_dir_all(&home).unwrap();
}

/// `SendEnv` patterns in order, `-` removing earlier matches.
#[test]
fn send_env_patterns() {
    let p = names(&["LC_*", "LANG", "-LC_ALL"]);
    assert!(send_env_matches(&p, "LC_CTYPE"));
    assert!(send_env_matches(&p, "LANG"));
    assert!(!send_env_matches(&p, "LC_ALL"));
    assert!(!send_env_matches(&p, "PATH"));
}

/// `ProxyJump`'s list: `[user@]host[:port]` hops, in order; what a hop
/// does not say comes from its own configuration.
#[test]
fn proxy_jump_lists_parse_into_hops() {
    use crate::ssh_config::{parse_proxy_jump, JumpHost};
    assert_eq!(
        parse_proxy_jump("alice@a:2222,b,[::1]:22").unwrap(),
        [
            JumpHost {
                user: Some("alice".into()),
                host: "a".into(),
                port: Some(2222)
            },
            JumpHost {
                user: None,
                host: "b".into(),
                port: None
            },
            JumpHost {
                user: None,
                host: "::1".into(),
                port: Some(22)
            },
        ]
    );
    for bad in ["a:x", "a,", "@a", "[::1", "a:0"] {
        let e = parse_proxy_jump(bad).unwrap_err();
        assert_eq!(e, format!("Invalid ProxyJump \"{bad}\""));
    }
}

/// Each hop is resolved with its own ssh_config; the list's user and port
/// win; later hops ignore their own ProxyJump (they are reached through
/// the earlier ones) while the first hop keeps its own.
#[test]
fn jump_hosts_are_resolved_with_their_own_config() {
    let home = dir("jumps");
    let file = home.join("config");
    std::fs::write(
        &file,
        "Host target\n  HostName 10.0.0.9\n  ProxyJump bastion,carol@inner:2022\n\
         Host bastion\n  HostName bastion.example.org\n  Port 2200\n  User bob\n  ProxyJump outer\n\
         Host inner\n  HostName inner.example.org\n  User nobody\n  ProxyJump never\n\
         Host outer\n  Port 2300\n",
    )
    .unwrap();
    let load = LoadOptions::isolated(&home)
        .with_file(&file)
        .with_option("Port 7")
        .with_option("IdentityFile /k");
    let target =
        HostConfig::from_resolved(SshConfig::load("target", &load).unwrap(), Arc::new(NoUi))
            .unwrap();
    assert_eq!((target.hostname(), target.port()), ("10.0.0.9", 7));
    let hops: Vec<_> = target
        .jumps()
        .iter()
        .map(|h| (h.hostname(), h.port(), h.user(), h.jumps().len()))
        .collect();
    assert_eq!(
        hops,
        [
            ("bastion.example.org", 2200, "bob", 1),
            ("inner.example.org", 2022, "carol", 0)
        ]
    );
    let outer = &target.jumps()[0].jumps()[0];
    assert_eq!((outer.hostname(), outer.port()), ("outer", 2300));
    // The command line's other options reach the hops.
    assert_eq!(
        target.jumps()[1].identity_files().unwrap(),
        [PathBuf::from("/k")]
    );
    // The builder's options are the destination's only.
    let built = SshConfig::builder("x")
        .option("HostName", "10.0.0.1")
        .option("ProxyJump", "y:2")
        .build(&LoadOptions::isolated(&home))
        .unwrap();
    let built = HostConfig::from_resolved(built, Arc::new(NoUi)).unwrap();
    assert_eq!(built.jumps()[0].hostname(), "y");
}

/// ProxyJump and ProxyCommand: the first one obtained wins, as in ssh.
#[test]
fn proxy_jump_or_proxy_command_whichever_comes_first() {
    let home = dir("jump-first");
    let jump_first = host(&home, &[("ProxyJump", "j1"), ("ProxyCommand", "nc %h %p")]);
    assert_eq!(jump_first.jumps().len(), 1);
    assert_eq!(jump_first.options().proxy_command, None);
    let command_first = host(&home, &[("ProxyCommand", "nc %h %p"), ("ProxyJump", "j1")]);
    assert!(command_first.jumps().is_empty());
    assert_eq!(
        command_first.options().proxy_command.as_deref(),
        Some("nc db 22")
    );
    // `none` is a value obtained: neither applies.
    let none = host(
        &home,
        &[("ProxyJump", "none"), ("ProxyCommand", "nc %h %p")],
    );
    assert!(none.jumps().is_empty() && none.options().proxy_command.is_none());
}

/// A first hop whose own first hop is itself again never ends: refused.
#[test]
fn jump_cycles_through_the_files_are_refused() {
    let home = dir("jump-cycle");
    let file = home.join("config");
    std::fs::write(&file, "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n").unwrap();
    let load = LoadOptions::isolated(&home).with_file(&file);
    let e = HostConfig::from_resolved(SshConfig::load("a", &load).unwrap(), Arc::new(NoUi))
        .unwrap_err();
    assert!(e.message.contains("nested more than"), "{e}");
}
