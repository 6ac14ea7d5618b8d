use conch_core::PrivateKey;
use rand_chacha::rand_core::SeedableRng;

use super::*;

fn key(seed: u64) -> PublicKey {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    PrivateKey::generate_ed25519(&mut rng).public_key().clone()
}

#[test]
fn plain_lines_comments_and_blank_lines() {
    let (a, b) = (key(1), key(2));
    let text = format!(
        "# my keys\n\n{}   alice@laptop  \r\n  {}\n",
        a.to_openssh(),
        b.to_openssh()
    );
    let keys = AuthorizedKeys::parse(&text);
    assert!(
        keys.invalid_lines().is_empty(),
        "{:?}",
        keys.invalid_lines()
    );
    assert_eq!(keys.keys().len(), 2);
    assert_eq!(keys.keys()[0].line(), 3);
    assert_eq!(keys.keys()[0].comment(), "alice@laptop");
    assert!(keys.keys()[0].options().is_empty());
    assert_eq!(keys.keys()[1].line(), 4);
    assert_eq!(keys.keys()[1].comment(), "");
    assert_eq!(keys.find(&b).map(AuthorizedKey::line), Some(4));
    assert!(keys.find(&key(3)).is_none());
}

#[test]
fn options_with_quotes_commas_spaces_and_escapes() {
    let a = key(1);
    let line = format!(
        "No-Pty,command=\"echo \\\"a, b\\\" c\",from=\"10.0.0.*,!10.0.0.1\",permitopen=\"h:1\",permitopen=\"h:2\" {} ops",
        a.to_openssh()
    );
    let keys = AuthorizedKeys::parse(&line);
    assert!(
        keys.invalid_lines().is_empty(),
        "{:?}",
        keys.invalid_lines()
    );
    let entry = keys.find(&a).unwrap();
    let names: Vec<&str> = entry.options().iter().map(KeyOption::name).collect();
    assert_eq!(
        names,
        ["no-pty", "command", "from", "permitopen", "permitopen"]
    );
    assert_eq!(entry.option("NO-PTY"), Some(None));
    assert_eq!(entry.option("command"), Some(Some("echo \"a, b\" c")));
    assert_eq!(entry.option("from"), Some(Some("10.0.0.*,!10.0.0.1")));
    assert_eq!(entry.option("permitopen"), Some(Some("h:1")));
    assert!(!entry.has_option("restrict"));
    assert_eq!(entry.comment(), "ops");
    assert_eq!(
        entry.options()[1].to_string(),
        "command=\"echo \\\"a, b\\\" c\""
    );
}

#[test]
fn bad_lines_grant_nothing_and_say_why() {
    let a = key(1).to_openssh();
    let text = [
        format!("frobnicate {a}"),
        format!("command=uptime {a}"),
        format!("command=\"unterminated {a}"),
        format!("no-pty=\"x\" {a}"),
        format!("from {a}"),
        format!("command=\"a\",command=\"b\" {a}"),
        "no-pty".to_string(),
        "ssh-ed25519 not-base64!".to_string(),
        "ssh-ed25519".to_string(),
        format!("no-pty,{a}"),
    ]
    .join("\n");
    let keys = AuthorizedKeys::parse(&text);
    assert!(keys.is_empty(), "{:?}", keys.keys());
    let reasons: Vec<(usize, &str)> = keys
        .invalid_lines()
        .iter()
        .map(|l| (l.line, l.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 10, "{reasons:?}");
    assert_eq!(reasons[0], (1, "unknown option \"frobnicate\""));
    assert!(reasons[1].1.contains("double quotes"), "{reasons:?}");
    assert!(reasons[2].1.contains("double quotes"), "{reasons:?}");
    assert_eq!(reasons[3].1, "option \"no-pty\" takes no value");
    assert_eq!(reasons[4].1, "option \"from\" needs a value");
    assert_eq!(reasons[5].1, "option \"command\" given twice");
    assert_eq!(reasons[6].1, "options without a key after them");
}

#[test]
fn the_first_entry_for_a_key_is_found() {
    let a = key(1);
    let text = format!(
        "{} first\nno-pty {} second\n",
        key(2).to_openssh(),
        a.to_openssh()
    ) + &format!("{} third\n", a.to_openssh());
    let keys = AuthorizedKeys::parse(&text);
    let entry = keys.find(&a).unwrap();
    assert_eq!((entry.line(), entry.comment()), (2, "second"));
}

#[test]
fn retain_drops_what_a_server_cannot_enforce() {
    let (a, b, c) = (key(1), key(2), key(3));
    let text = format!(
        "no-port-forwarding,no-X11-forwarding {}\ncommand=\"true\" {}\n{}\n",
        a.to_openssh(),
        b.to_openssh(),
        c.to_openssh()
    );
    let mut keys = AuthorizedKeys::parse(&text);
    let dropped = keys.retain(|k| {
        k.options()
            .iter()
            .all(KeyOption::restricts_only_unoffered_features)
    });
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].key(), &b);
    assert!(keys.find(&a).is_some());
    assert!(keys.find(&b).is_none());
    assert!(keys.find(&c).is_some());
}

#[test]
fn a_list_of_keys_is_an_authorized_keys_without_options() {
    let keys: AuthorizedKeys = [key(1), key(2)].into_iter().collect();
    assert_eq!(keys.find(&key(2)).map(AuthorizedKey::line), Some(2));
    assert!(keys.find(&key(3)).is_none());
    assert!(keys.keys().iter().all(|k| k.options().is_empty()));
}

#[test]
fn constant_time_compare() {
    assert!(constant_time_eq(b"secret", b"secret"));
    assert!(!constant_time_eq(b"secret", b"secreT"));
    assert!(!constant_time_eq(b"secret", b"secre"));
    assert!(constant_time_eq(b"", b""));
}

#[test]
fn reads_a_file() {
    let path = std::env::temp_dir().join(format!("conch-authorized-keys-{}", std::process::id()));
    fs::write(&path, format!("{}\n", key(5).to_openssh())).unwrap();
    let keys = AuthorizedKeys::read(&path);
    let _ = fs::remove_file(&path);
    assert!(keys.unwrap().find(&key(5)).is_some());
    assert_eq!(
        AuthorizedKeys::read("/nonexistent/conch-authorized-keys")
            .unwrap_err()
            .kind(),
        io::ErrorKind::NotFound
    );
}
