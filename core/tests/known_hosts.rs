//! known_hosts files written by OpenSSH's own tools (see
//! `fixtures/known_hosts/generate.sh`): `plain` was assembled from keys made
//! by `ssh-keygen -t ed25519` / `-t ecdsa`, and `hashed` is that file (minus
//! its two unparsable lines, which `ssh-keygen -H` refuses) after
//! `ssh-keygen -H`, so hashed lookups are checked against OpenSSH's hashing.
// Tests may do I/O and read the clock; the library under test may not.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::IpAddr;
use std::process::Command;

use conch_core::known_hosts::{KnownHosts, Marker, Verdict};
use conch_core::PublicKey;
use rand_chacha::rand_core::SeedableRng;

const PLAIN: &str = include_str!("fixtures/known_hosts/plain");
const HASHED: &str = include_str!("fixtures/known_hosts/hashed");

/// The key of a `.pub` file, without its comment (as a server presents it).
fn key(pub_file: &str) -> PublicKey {
    let with_comment = PublicKey::from_openssh(pub_file).expect("fixture key");
    PublicKey::from_blob(with_comment.blob()).unwrap()
}

struct Keys {
    alpha: PublicKey,
    alpha2222: PublicKey,
    wild: PublicKey,
    revoked: PublicKey,
    ca: PublicKey,
    other: PublicKey,
}

fn keys() -> Keys {
    Keys {
        alpha: key(include_str!("fixtures/known_hosts/alpha.pub")),
        alpha2222: key(include_str!("fixtures/known_hosts/alpha2222.pub")),
        wild: key(include_str!("fixtures/known_hosts/wild.pub")),
        revoked: key(include_str!("fixtures/known_hosts/revoked.pub")),
        ca: key(include_str!("fixtures/known_hosts/ca.pub")),
        other: key(include_str!("fixtures/known_hosts/other.pub")),
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Line numbers of the same entries in the two fixtures.
struct Lines {
    alpha: usize,
    alpha2222: usize,
    wild: usize,
    revoked: usize,
    ca: usize,
}

/// The verdicts both fixtures must give; only the line numbers differ.
fn check_common_verdicts(kh: &KnownHosts, at: Lines) {
    let k = keys();
    let known = |line| Verdict::Known { line };

    // Plain or hashed name, any case; the address listed for it too.
    assert_eq!(
        kh.check("alpha.example", 22, None, &k.alpha),
        known(at.alpha)
    );
    assert_eq!(
        kh.check("ALPHA.Example", 22, None, &k.alpha),
        known(at.alpha)
    );
    assert_eq!(
        kh.check("alpha.example", 22, ip("192.0.2.10"), &k.alpha),
        known(at.alpha)
    );
    // Known name, new address, same key: accept and add the address.
    assert_eq!(
        kh.check("alpha.example", 22, ip("192.0.2.99"), &k.alpha),
        Verdict::KnownNewIp {
            line: at.alpha,
            ip: "192.0.2.99".parse().unwrap()
        }
    );
    // [host]:port entries.
    assert_eq!(
        kh.check("alpha.example", 2222, None, &k.alpha2222),
        known(at.alpha2222)
    );
    // The key of port 22 is accepted on another port too (OpenSSH's
    // "checking without port identifier").
    assert_eq!(
        kh.check("alpha.example", 2200, None, &k.alpha),
        known(at.alpha)
    );
    // Changed: another Ed25519 key for a known name, naming the line.
    assert_eq!(
        kh.check("alpha.example", 22, None, &k.other),
        Verdict::Changed {
            line: at.alpha,
            existing: k.alpha.clone()
        }
    );
    assert_eq!(
        kh.check("alpha.example", 2222, None, &k.other),
        Verdict::Changed {
            line: at.alpha2222,
            existing: k.alpha2222.clone()
        }
    );
    // Wildcards, `?`, and a negated name on the same line.
    assert_eq!(
        kh.check("a.wild.example", 22, None, &k.wild),
        known(at.wild)
    );
    assert_eq!(kh.check("host.example", 22, None, &k.wild), known(at.wild));
    assert_eq!(
        kh.check("bad.wild.example", 22, None, &k.wild),
        Verdict::Unknown
    );
    // beta.example is known with an ECDSA key only: a new type is unknown.
    assert_eq!(
        kh.check("beta.example", 22, None, &k.other),
        Verdict::Unknown
    );
    assert_eq!(
        kh.host_keys("beta.example", 22)[0].key_type(),
        "ecdsa-sha2-nistp256"
    );
    // Not listed at all.
    assert_eq!(
        kh.check("nowhere.test", 22, None, &k.alpha),
        Verdict::Unknown
    );
    // `@revoked *` wins for every host.
    assert_eq!(
        kh.check("alpha.example", 22, None, &k.revoked),
        Verdict::Revoked { line: at.revoked }
    );
    // A CA key is no host key, but is found for the names it covers.
    assert_eq!(kh.check("x.example", 22, None, &k.ca), Verdict::Unknown);
    let cas = kh.cert_authorities("x.example", 22);
    assert_eq!(cas.len(), 1);
    assert_eq!(cas[0].line(), at.ca);
    assert_eq!(cas[0].marker(), Some(Marker::CertAuthority));
    assert_eq!(cas[0].key(), Some(&k.ca));
}

#[test]
fn plain_file_from_ssh_keygen_keys() {
    let kh = KnownHosts::parse(PLAIN);
    assert_eq!(kh.to_text(), PLAIN, "every line kept byte for byte");
    assert_eq!(kh.invalid_lines(), vec![9, 10, 11]);
    check_common_verdicts(
        &kh,
        Lines {
            alpha: 2,
            alpha2222: 3,
            wild: 4,
            revoked: 7,
            ca: 8,
        },
    );
    // Names in the file are compared without case.
    assert_eq!(
        kh.check("upper.example", 22, None, &keys().other),
        Verdict::Known { line: 12 }
    );
}

#[test]
fn file_hashed_by_ssh_keygen() {
    let kh = KnownHosts::parse(HASHED);
    assert_eq!(kh.to_text(), HASHED);
    // ssh-keygen -H hashed the broken.example line too; its key is no
    // base64, so it stays unreadable.
    assert_eq!(kh.invalid_lines(), vec![10]);
    let hashed: Vec<usize> = kh
        .entries()
        .filter(|e| e.is_hashed())
        .map(|e| e.line())
        .collect();
    assert_eq!(hashed, vec![2, 3, 4, 6, 11]);
    check_common_verdicts(
        &kh,
        Lines {
            alpha: 2,
            alpha2222: 4,
            wild: 5,
            revoked: 8,
            ca: 9,
        },
    );
    // The address got its own hashed line (3).
    let k = keys();
    assert_eq!(
        kh.check("192.0.2.10", 22, None, &k.alpha),
        Verdict::Known { line: 3 }
    );
    // ssh-keygen lower-cases "UPPER.Example" before hashing it, as ssh
    // lower-cases the names it looks up; so do we.
    assert_eq!(
        kh.check("Upper.EXAMPLE", 22, None, &k.other),
        Verdict::Known { line: 11 }
    );
}

/// The strongest check of our hashing the other way round: OpenSSH's
/// `ssh-keygen -F` finds the hashed lines Conch appends.
#[test]
fn ssh_keygen_finds_the_hashed_entries_we_append() {
    let k = keys();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
    let mut kh = KnownHosts::parse(HASHED);
    let mut text = HASHED.to_string();
    for (host, port) in [
        ("new.example", 22),
        ("New.Example", 2222),
        ("192.0.2.44", 22),
    ] {
        let added = kh
            .add(host, port, &k.other, true, &mut rng)
            .unwrap()
            .unwrap();
        assert!(added.starts_with("|1|"));
        text.push_str(&added);
    }
    // Already there: nothing to append.
    assert_eq!(
        kh.add("new.example", 22, &k.other, true, &mut rng).unwrap(),
        None
    );

    let dir = std::env::temp_dir().join(format!("conch-known-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("known_hosts");
    std::fs::write(&file, &text).unwrap();
    for (name, line) in [
        ("new.example", 12),
        ("[new.example]:2222", 13),
        ("192.0.2.44", 14),
    ] {
        let out = Command::new("ssh-keygen")
            .arg("-F")
            .arg(name)
            .arg("-f")
            .arg(&file)
            .output()
            .expect("ssh-keygen is installed (openssh-client)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("# Host {name} found: line {line}")),
            "ssh-keygen -F {name}: {stdout}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
