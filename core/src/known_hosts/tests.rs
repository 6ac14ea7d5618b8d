//! Unit tests with keys generated in the test. Fixture files written by
//! OpenSSH's own `ssh-keygen` are tested in `core/tests/known_hosts.rs`.

use super::*;
use crate::keys::PrivateKey;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn key(seed: u64) -> PublicKey {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    PrivateKey::generate_ed25519(&mut rng).public_key().clone()
}

fn line(host: &str, k: &PublicKey) -> String {
    format!("{host} {}\n", k.to_openssh())
}

#[test]
fn text_round_trips_byte_for_byte() {
    let k = key(1);
    for text in [
        String::new(),
        "\n".to_string(),
        format!("# c\n\n   \t\nnot an entry\n{}", line("a", &k)),
        // No final newline, CRLF, and an RSA1-style line.
        format!("a {}\r\nhost 1024 35 12345", k.to_openssh()),
    ] {
        assert_eq!(KnownHosts::parse(&text).to_text(), text);
    }
}

#[test]
fn unreadable_lines_are_kept_and_reported() {
    let k = key(1);
    let text = format!(
        "# comment\n\nhost 1024 35 12345\n@bogus h {0}\nh ssh-rsa {1}\nh {0} comment here\nh\n",
        k.to_openssh(),
        // The blob is an Ed25519 key but the line says ssh-rsa.
        k.to_openssh().split(' ').nth(1).unwrap(),
    );
    let kh = KnownHosts::parse(&text);
    assert_eq!(kh.invalid_lines(), vec![3, 4, 5, 7]);
    let entries: Vec<_> = kh.entries().collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].line(), 6);
    assert_eq!(entries[0].comment(), "comment here");
}

#[test]
fn verdicts_known_unknown_changed() {
    let (a, b) = (key(1), key(2));
    let kh = KnownHosts::parse(&format!("# x\n{}", line("host.example,other", &a)));
    assert_eq!(
        kh.check("host.example", 22, None, &a),
        Verdict::Known { line: 2 }
    );
    assert_eq!(kh.check("OTHER", 22, None, &a), Verdict::Known { line: 2 });
    assert_eq!(kh.check("third", 22, None, &a), Verdict::Unknown);
    assert_eq!(
        kh.check("host.example", 22, None, &b),
        Verdict::Changed {
            line: 2,
            existing: a.clone()
        }
    );
    // The port is part of the name.
    assert_eq!(kh.check("host.example", 2222, None, &b), Verdict::Unknown);
}

#[test]
fn a_matching_line_anywhere_wins_over_a_different_key() {
    let (a, b) = (key(1), key(2));
    let kh = KnownHosts::parse(&format!("{}{}", line("h", &b), line("h", &a)));
    assert_eq!(kh.check("h", 22, None, &a), Verdict::Known { line: 2 });
}

#[test]
fn changed_names_the_last_line_with_that_key_type() {
    let (a, b, c) = (key(1), key(2), key(3));
    let kh = KnownHosts::parse(&format!(
        "{}{}{}",
        line("h", &a),
        line("other", &c),
        line("h", &b)
    ));
    match kh.check("h", 22, None, &c) {
        Verdict::Changed { line, existing } => {
            assert_eq!(line, 3);
            assert_eq!(existing, b);
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_new_key_type_counts_as_unknown() {
    let ed = key(1);
    // An ECDSA P-256 key as ssh-keygen writes it (a type Conch may not
    // decode yet: the entry is kept either way).
    let ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBK2Z1axcTC8fKRIUQVeZAjHiU9+zyS53W4ytso0qM7Eu/IW4W+GY+7jLwMjMxsrXC5RGsL6Sqwd7jSyGuJxUgII=";
    let kh = KnownHosts::parse(&format!("h {ecdsa}\n"));
    assert_eq!(kh.check("h", 22, None, &ed), Verdict::Unknown);
    let known = kh.host_keys("h", 22);
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].key_type(), "ecdsa-sha2-nistp256");
}

#[test]
fn revoked_beats_known_and_any_pattern() {
    let (a, b) = (key(1), key(2));
    let text = format!(
        "{}@revoked * {}\n@revoked nowhere {}\n",
        line("h", &a),
        a.to_openssh(),
        b.to_openssh()
    );
    let kh = KnownHosts::parse(&text);
    assert_eq!(kh.check("h", 22, None, &a), Verdict::Revoked { line: 2 });
    assert_eq!(kh.check("x", 2222, None, &a), Verdict::Revoked { line: 2 });
    // A revocation only covers the names on its line.
    assert_eq!(
        kh.check("h", 22, None, &b),
        Verdict::Changed {
            line: 1,
            existing: a.clone()
        }
    );
}

#[test]
fn cert_authority_lines_never_match_a_host_key() {
    let a = key(1);
    let kh = KnownHosts::parse(&format!("@cert-authority *.example {}\n", a.to_openssh()));
    assert_eq!(kh.check("h.example", 22, None, &a), Verdict::Unknown);
    let cas = kh.cert_authorities("h.example", 22);
    assert_eq!(cas.len(), 1);
    assert_eq!(cas[0].marker(), Some(Marker::CertAuthority));
    assert!(kh.cert_authorities("h.other", 22).is_empty());
}

#[test]
fn negation_excludes_a_host_from_a_wildcard_line() {
    let a = key(1);
    let kh = KnownHosts::parse(&line("*.example,!bad.example", &a));
    assert_eq!(
        kh.check("good.example", 22, None, &a),
        Verdict::Known { line: 1 }
    );
    assert_eq!(kh.check("bad.example", 22, None, &a), Verdict::Unknown);
}

#[test]
fn ip_address_checks() {
    let (a, b) = (key(1), key(2));
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let kh = KnownHosts::parse(&line("h", &a));
    assert_eq!(
        kh.check("h", 22, Some(ip), &a),
        Verdict::KnownNewIp { line: 1, ip }
    );
    // Loopback addresses and a host given as the address are not checked.
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(kh.check("h", 22, Some(lo), &a), Verdict::Known { line: 1 });
    let kh = KnownHosts::parse(&format!("{}{}", line("h", &a), line("192.0.2.7", &b)));
    assert_eq!(
        kh.check("h", 22, Some(ip), &a),
        Verdict::KnownIpMismatch {
            line: 1,
            ip_line: 2
        }
    );
    assert_eq!(
        kh.check("192.0.2.7", 22, Some(ip), &b),
        Verdict::Known { line: 2 }
    );
    let kh = KnownHosts::parse(&line("h,192.0.2.7", &a));
    assert_eq!(kh.check("h", 22, Some(ip), &a), Verdict::Known { line: 1 });
    // With a port, the address is looked up as [ip]:port.
    let kh = KnownHosts::parse(&format!(
        "{}{}",
        line("[h]:2222", &a),
        line("[192.0.2.7]:2222", &a)
    ));
    assert_eq!(
        kh.check("h", 2222, Some(ip), &a),
        Verdict::Known { line: 1 }
    );
}

#[test]
fn a_non_default_port_falls_back_to_the_plain_name_for_the_same_key() {
    let (a, b) = (key(1), key(2));
    let kh = KnownHosts::parse(&line("h", &a));
    assert_eq!(kh.check("h", 2222, None, &a), Verdict::Known { line: 1 });
    // A different key under the plain name does not make the port changed.
    assert_eq!(kh.check("h", 2222, None, &b), Verdict::Unknown);
}

#[test]
fn add_hashes_by_default_and_never_duplicates() {
    let (a, b) = (key(1), key(2));
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut kh = KnownHosts::parse("# mine\nlast line without newline");
    let text = kh
        .add("Host.Example", 2222, &a, true, &mut rng)
        .unwrap()
        .unwrap();
    assert!(text.starts_with("\n|1|"), "{text}");
    assert!(text.ends_with(&format!(" {}\n", a.to_openssh())));
    assert!(!text.contains("host.example"));
    assert_eq!(
        kh.check("host.example", 2222, None, &a),
        Verdict::Known { line: 3 }
    );
    assert_eq!(
        kh.add("host.example", 2222, &a, true, &mut rng).unwrap(),
        None
    );
    // The file after appending is the parsed text plus the returned text.
    let mut after = "# mine\nlast line without newline".to_string();
    after.push_str(&text);
    assert_eq!(kh.to_text(), after);

    let text = kh.add("h", 22, &b, false, &mut rng).unwrap().unwrap();
    assert_eq!(text, format!("h {}\n", b.to_openssh()));
    let text = kh.add("h", 2200, &b, false, &mut rng).unwrap().unwrap();
    assert_eq!(text, format!("[h]:2200 {}\n", b.to_openssh()));
    assert_eq!(
        KnownHosts::parse(&kh.to_text()).check("h", 2200, None, &b),
        Verdict::Known { line: 5 }
    );
}

#[test]
fn adding_to_an_empty_file_starts_at_line_one() {
    let a = key(1);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    for mut kh in [
        KnownHosts::new(),
        KnownHosts::default(),
        KnownHosts::parse(""),
    ] {
        let text = kh.add("h", 22, &a, false, &mut rng).unwrap().unwrap();
        assert_eq!(text, format!("h {}\n", a.to_openssh()));
        assert_eq!(kh.to_text(), text);
        assert_eq!(kh.check("h", 22, None, &a), Verdict::Known { line: 1 });
    }
}

#[test]
fn hashed_entries_use_fresh_salt_from_the_rng() {
    let a = key(1);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let one = entry_line("h", 22, &a, true, &mut rng).unwrap();
    let two = entry_line("h", 22, &a, true, &mut rng).unwrap();
    assert_ne!(one, two);
    for l in [&one, &two] {
        assert_eq!(
            KnownHosts::parse(l).check("h", 22, None, &a),
            Verdict::Known { line: 1 }
        );
    }
    // Same seed, same bytes.
    let again = entry_line("h", 22, &a, true, &mut ChaCha20Rng::seed_from_u64(9)).unwrap();
    assert_eq!(again, one);
}

#[test]
fn names_that_would_read_back_as_patterns_are_refused() {
    let a = key(1);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    for bad in ["*.x", "a,b", "", "a b", "#x", "[x]"] {
        assert_eq!(
            entry_line(bad, 22, &a, false, &mut rng),
            Err(KnownHostsError::InvalidHostName(bad.to_string()))
        );
    }
}

#[test]
fn prompt_wording_matches_openssh() {
    let a = key(1);
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let fp = a.fingerprint();
    assert_eq!(
        unknown_host_prompt("Host", 22, Some(ip), &a, false),
        format!(
            "The authenticity of host 'host (192.0.2.7)' can't be established.\n\
             ED25519 key fingerprint is {fp}.\n\
             Are you sure you want to continue connecting (yes/no/[fingerprint])? "
        )
    );
    assert!(
        unknown_host_prompt("h", 2222, Some(ip), &a, true).starts_with(
            "The authenticity of host '[h]:2222 ([192.0.2.7]:2222)' can't be established\n\
         but keys of different type are already known for this host.\n"
        )
    );
    let warning = changed_key_warning("h", 22, &a, "/home/u/.ssh/known_hosts", 7);
    assert!(warning.contains("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"));
    assert!(warning.contains(&format!("remote host is\n{fp}.\n")));
    assert!(warning.contains("Offending ED25519 key in /home/u/.ssh/known_hosts:7\n"));
    assert_eq!(
        ip_added_warning(ip, 22, &a),
        "Warning: Permanently added the ED25519 host key for IP address '192.0.2.7' to the list of known hosts.\n"
    );
    assert_eq!(
        host_added_warning("h", 2222, &a),
        "Warning: Permanently added '[h]:2222' (ED25519) to the list of known hosts.\n"
    );
    assert!(revoked_key_warning("h", 22, &a)
        .contains("The ED25519 host key for h is marked as revoked.\n"));
    assert!(
        ip_mismatch_warning("h", 22, ip, &a, "f", 1, 2).contains("Offending key for IP in f:2\n")
    );
}

#[test]
fn answers() {
    let (a, b) = (key(1), key(2));
    for (text, want) in [
        ("yes\n", Answer::Yes),
        ("  YeS  ", Answer::Yes),
        ("no", Answer::No),
        ("NO\r\n", Answer::No),
        ("\n", Answer::No),
        ("y", Answer::AskAgain),
        ("yes please", Answer::AskAgain),
        ("maybe", Answer::AskAgain),
    ] {
        assert_eq!(parse_answer(text, &a), want, "{text:?}");
    }
    assert_eq!(
        parse_answer(&format!("{}\n", a.fingerprint()), &a),
        Answer::Yes
    );
    assert_eq!(parse_answer(&b.fingerprint(), &a), Answer::AskAgain);
}
