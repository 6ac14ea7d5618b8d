use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use conch_core::PrivateKey;
use rand_chacha::rand_core::SeedableRng;

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "conch-known-hosts-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn key(seed: u64) -> PublicKey {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    PrivateKey::generate_ed25519(&mut rng).public_key().clone()
}

/// Answers a fixed way and records what it was shown.
#[derive(Default)]
struct ScriptedUi {
    answer: bool,
    asked: Mutex<Vec<String>>,
    warnings: Mutex<Vec<String>>,
}

impl ScriptedUi {
    fn answering(answer: bool) -> Arc<Self> {
        Arc::new(ScriptedUi {
            answer,
            ..Default::default()
        })
    }

    fn warnings(&self) -> String {
        self.warnings.lock().unwrap().concat()
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl HostKeyUi for ScriptedUi {
    fn confirm(&self, prompt: &str, _key: &PublicKey) -> bool {
        self.asked.lock().unwrap().push(prompt.to_string());
        self.answer
    }

    fn warn(&self, message: &str) {
        self.warnings.lock().unwrap().push(message.to_string());
    }
}

fn verifier(
    file: &KnownHostsFile,
    policy: KnownHostsPolicy,
    ui: &Arc<ScriptedUi>,
) -> KnownHostsVerifier {
    KnownHostsVerifier::new(file.clone(), policy, ui.clone())
}

#[test]
fn add_creates_private_parent_dirs_and_appends_one_hashed_line() {
    let dir = TempDir::new();
    let path = dir.0.join("deep").join(".ssh").join("known_hosts");
    let file = KnownHostsFile::new(&path);
    assert!(file.add("example.org", 2222, &key(1)).unwrap());
    // The same key again is not a duplicate.
    assert!(!file.add("example.org", 2222, &key(1)).unwrap());
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("|1|"), "hashed by default: {text}");
    assert!(!text.contains("example.org"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    assert_eq!(
        file.check("example.org", 2222, None, &key(1)).unwrap(),
        Verdict::Known { line: 1 }
    );
}

#[test]
fn add_keeps_existing_lines_and_ends_an_unterminated_last_line() {
    let dir = TempDir::new();
    let path = dir.0.join("known_hosts");
    let old = format!(
        "# my hosts\nbogus line\nold.example {}",
        key(2).to_openssh()
    );
    fs::write(&path, &old).unwrap();
    let file = KnownHostsFile::new(&path).hash_new_entries(false);
    assert!(file.add("new.example", 22, &key(3)).unwrap());
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        format!("{old}\nnew.example {}\n", key(3).to_openssh())
    );
}

#[test]
fn a_missing_file_is_empty() {
    let dir = TempDir::new();
    let file = KnownHostsFile::new(dir.0.join("nope"));
    assert_eq!(
        file.check("h", 22, None, &key(1)).unwrap(),
        Verdict::Unknown
    );
}

#[test]
fn concurrent_adders_neither_interleave_nor_duplicate() {
    let dir = TempDir::new();
    let path = dir.0.join("known_hosts");
    const THREADS: u64 = 8;
    const HOSTS: u64 = 25;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let path = &path;
            s.spawn(move || {
                // Each thread its own handle, as separate processes would.
                let file = KnownHostsFile::new(path);
                for h in 0..HOSTS {
                    // Every thread saves the shared hosts and its own.
                    file.add(&format!("shared{h}.example"), 22, &key(h))
                        .unwrap();
                    file.add(&format!("t{t}-{h}.example"), 22, &key(100 + h))
                        .unwrap();
                }
            });
        }
    });
    let text = fs::read_to_string(&path).unwrap();
    let known = KnownHosts::parse(&text);
    assert!(
        known.invalid_lines().is_empty(),
        "corrupt lines in:\n{text}"
    );
    assert_eq!(
        text.lines().count() as u64,
        HOSTS + THREADS * HOSTS,
        "each host exactly once"
    );
    for h in 0..HOSTS {
        assert!(matches!(
            known.check(&format!("shared{h}.example"), 22, None, &key(h)),
            Verdict::Known { .. }
        ));
    }
}

#[test]
fn accept_new_saves_and_says_so_then_knows_the_host() {
    let dir = TempDir::new();
    let file = KnownHostsFile::new(dir.0.join("known_hosts"));
    let ui = ScriptedUi::answering(false);
    let v = verifier(&file, KnownHostsPolicy::AcceptNew, &ui);
    assert_eq!(
        v.verify_at("host.example", 2200, None, &key(1)),
        HostKeyVerdict::Accept
    );
    assert!(ui.asked().is_empty(), "accept-new never asks");
    assert_eq!(
        ui.warnings(),
        "Warning: Permanently added '[host.example]:2200' (ED25519) to the list of known hosts.\n"
    );
    assert_eq!(
        v.verify_at("host.example", 2200, None, &key(1)),
        HostKeyVerdict::Accept
    );
    assert_eq!(fs::read_to_string(file.path()).unwrap().lines().count(), 1);
}

#[test]
fn changed_key_is_refused_naming_file_and_line_whatever_the_ui_says() {
    let dir = TempDir::new();
    let path = dir.0.join("known_hosts");
    fs::write(
        &path,
        format!("# comment\nhost.example {}\n", key(1).to_openssh()),
    )
    .unwrap();
    let file = KnownHostsFile::new(&path);
    for policy in [
        KnownHostsPolicy::Ask,
        KnownHostsPolicy::AcceptNew,
        KnownHostsPolicy::Strict,
    ] {
        let ui = ScriptedUi::answering(true);
        let verdict = verifier(&file, policy, &ui).verify_at("host.example", 22, None, &key(2));
        let HostKeyVerdict::Changed { detail } = verdict else {
            panic!("{policy:?}: {verdict:?}");
        };
        assert!(
            detail.contains(&format!("{}:2", path.display())),
            "{detail}"
        );
        assert!(ui.asked().is_empty());
        let warned = ui.warnings();
        assert!(warned.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
        assert!(warned.contains(&format!("Offending ED25519 key in {}:2", path.display())));
        assert!(warned.contains(&key(2).fingerprint()));
    }
    // The file was not touched.
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 2);
}

#[test]
fn revoked_key_is_refused_even_if_also_listed() {
    let dir = TempDir::new();
    let path = dir.0.join("known_hosts");
    let line = key(1).to_openssh();
    fs::write(&path, format!("host.example {line}\n@revoked * {line}\n")).unwrap();
    let ui = ScriptedUi::answering(true);
    let verdict = verifier(
        &KnownHostsFile::new(&path),
        KnownHostsPolicy::AcceptNew,
        &ui,
    )
    .verify_at("host.example", 22, None, &key(1));
    assert!(
        matches!(verdict, HostKeyVerdict::Reject { .. }),
        "{verdict:?}"
    );
    assert!(ui.warnings().contains("REVOKED HOST KEY"));
}

#[test]
fn strict_refuses_unknown_hosts_with_openssh_wording() {
    let dir = TempDir::new();
    let file = KnownHostsFile::new(dir.0.join("known_hosts"));
    let ui = ScriptedUi::answering(true);
    let verdict = verifier(&file, KnownHostsPolicy::Strict, &ui).verify_at("h", 22, None, &key(1));
    assert!(matches!(verdict, HostKeyVerdict::Reject { .. }));
    assert_eq!(
        ui.warnings(),
        "No ED25519 host key is known for h and you have requested strict checking.\n\
         Host key verification failed.\n"
    );
    assert!(!file.path().exists(), "nothing saved");
}

#[test]
fn ask_shows_the_openssh_question_and_saves_only_on_yes() {
    let dir = TempDir::new();
    let file = KnownHostsFile::new(dir.0.join("known_hosts"));

    let no = ScriptedUi::answering(false);
    let verdict = verifier(&file, KnownHostsPolicy::Ask, &no).verify_at("h", 22, None, &key(1));
    assert!(matches!(verdict, HostKeyVerdict::Reject { .. }));
    let asked = no.asked();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].starts_with("The authenticity of host 'h' can't be established."));
    assert!(asked[0].contains(&format!(
        "ED25519 key fingerprint is {}.",
        key(1).fingerprint()
    )));
    assert!(asked[0].ends_with("(yes/no/[fingerprint])? "));
    assert_eq!(no.warnings(), "Host key verification failed.\n");
    assert!(!file.path().exists());

    let yes = ScriptedUi::answering(true);
    let verdict = verifier(&file, KnownHostsPolicy::Ask, &yes).verify_at("h", 22, None, &key(1));
    assert_eq!(verdict, HostKeyVerdict::Accept);
    assert!(yes
        .warnings()
        .starts_with("Warning: Permanently added 'h' (ED25519)"));
    assert!(matches!(
        file.check("h", 22, None, &key(1)).unwrap(),
        Verdict::Known { .. }
    ));
}

#[test]
fn insecure_accept_any_accepts_a_changed_key_and_saves_nothing() {
    let dir = TempDir::new();
    let path = dir.0.join("known_hosts");
    let before = format!("h {}\n", key(1).to_openssh());
    fs::write(&path, &before).unwrap();
    let ui = ScriptedUi::answering(false);
    let verdict = verifier(
        &KnownHostsFile::new(&path),
        KnownHostsPolicy::InsecureAcceptAny,
        &ui,
    )
    .verify_at("h", 22, None, &key(2));
    assert_eq!(verdict, HostKeyVerdict::Accept);
    assert_eq!(fs::read_to_string(&path).unwrap(), before);
}

#[test]
fn a_save_failure_is_a_warning_not_a_refusal() {
    let dir = TempDir::new();
    // The "file" is a directory: it cannot be opened for appending.
    let file = KnownHostsFile::new(&dir.0);
    let ui = ScriptedUi::answering(false);
    let verdict =
        verifier(&file, KnownHostsPolicy::AcceptNew, &ui).verify_at("h", 22, None, &key(1));
    assert_eq!(verdict, HostKeyVerdict::Accept);
    assert!(ui
        .warnings()
        .contains("Failed to add the host to the list of known hosts"));
}

#[test]
fn read_only_files_are_consulted_and_never_written() {
    let dir = TempDir::new();
    let user = KnownHostsFile::new(dir.0.join("known_hosts")).hash_new_entries(false);
    let global_path = dir.0.join("ssh_known_hosts");
    fs::write(
        &global_path,
        format!(
            "# system\nlisted.example {}\nchanged.example {}\n",
            key(1).to_openssh(),
            key(2).to_openssh()
        ),
    )
    .unwrap();
    let global = KnownHostsFile::new(&global_path);
    let ui = ScriptedUi::answering(true);
    let strict = verifier(&user, KnownHostsPolicy::Strict, &ui).also_read(global.clone());
    // Known from the system file alone: accepted, nothing saved.
    assert_eq!(
        strict.verify_at("listed.example", 22, None, &key(1)),
        HostKeyVerdict::Accept
    );
    assert!(!user.path().exists());
    // Another key recorded in the system file: changed, naming that file.
    match strict.verify_at("changed.example", 22, None, &key(3)) {
        HostKeyVerdict::Changed { detail } => {
            assert_eq!(
                detail,
                format!("offending key in {}:3", global_path.display())
            )
        }
        other => panic!("{other:?}"),
    }
    // The user's file listing the key wins over the system file's other key.
    user.add("changed.example", 22, &key(3)).unwrap();
    assert_eq!(
        strict.verify_at("changed.example", 22, None, &key(3)),
        HostKeyVerdict::Accept
    );
    // A new host accepted is saved to the user's file only.
    let accept_new = verifier(&user, KnownHostsPolicy::AcceptNew, &ui).also_read(global);
    assert_eq!(
        accept_new.verify_at("new.example", 22, None, &key(4)),
        HostKeyVerdict::Accept
    );
    assert!(fs::read_to_string(user.path())
        .unwrap()
        .contains("new.example"));
    assert!(!fs::read_to_string(&global_path)
        .unwrap()
        .contains("new.example"));
}

#[test]
fn strict_in_one_call_reads_the_users_and_the_systems_files() {
    let strict = KnownHostsVerifier::strict().expect("HOME is set in tests");
    assert_eq!(strict.policy(), KnownHostsPolicy::Strict);
    let home = PathBuf::from(std::env::var_os("HOME").unwrap());
    assert_eq!(strict.file().path(), home.join(".ssh").join("known_hosts"));
    let also: Vec<&Path> = strict
        .also_reads()
        .iter()
        .map(KnownHostsFile::path)
        .collect();
    assert_eq!(
        also,
        [
            home.join(".ssh").join("known_hosts2").as_path(),
            Path::new("/etc/ssh/ssh_known_hosts"),
            Path::new("/etc/ssh/ssh_known_hosts2"),
        ]
    );
    // Usable as the options' policy directly.
    let options = conch_driver::ClientOptions::new(strict);
    assert!(format!("{options:?}").contains("custom verifier"));
}

/// CheckHostIP: the address the driver connected to (in the server name)
/// is checked and recorded only when asked for; a host key alias is
/// looked up instead of the name, without the address.
#[test]
fn check_host_ip_uses_the_address_connected_to() {
    let dir = TempDir::new();
    let file = KnownHostsFile::new(dir.0.join("known_hosts")).hash_new_entries(false);
    file.add("db.example", 22, &key(1)).unwrap();
    let server = ServerName::new("db.example", 22).with_address(IpAddr::from([192, 0, 2, 7]));
    let ui = ScriptedUi::answering(false);
    let off = verifier(&file, KnownHostsPolicy::Strict, &ui);
    assert_eq!(off.verify(&server, &key(1)), HostKeyVerdict::Accept);
    assert!(!fs::read_to_string(file.path())
        .unwrap()
        .contains("192.0.2.7"));
    let on = off.clone().check_host_ip(true);
    assert_eq!(on.verify(&server, &key(1)), HostKeyVerdict::Accept);
    assert!(fs::read_to_string(file.path())
        .unwrap()
        .contains("192.0.2.7 ssh-ed25519"));
    assert!(ui.warnings().contains("192.0.2.7"), "{}", ui.warnings());
    // Another key at that address: the mismatch is warned about and
    // strict checking refuses it.
    let elsewhere = ServerName::new("other.example", 22).with_address(IpAddr::from([192, 0, 2, 7]));
    file.add("other.example", 22, &key(2)).unwrap();
    assert!(matches!(
        on.verify(&elsewhere, &key(2)),
        HostKeyVerdict::Reject { .. }
    ));
    // HostKeyAlias: the alias's entry decides.
    file.add("alias", 22, &key(3)).unwrap();
    let aliased = on.clone().host_key_alias(Some("alias".into()));
    assert_eq!(aliased.verify(&server, &key(3)), HostKeyVerdict::Accept);
    assert!(matches!(
        aliased.verify(&server, &key(1)),
        HostKeyVerdict::Changed { .. }
    ));
    assert_eq!(aliased.known_key_types("whatever", 22), ["ssh-ed25519"]);
}

/// `/dev/null` takes new entries silently, as with ssh (fsync(2) on it
/// would fail with EINVAL).
#[cfg(unix)]
#[test]
fn dev_null_takes_new_entries() {
    let file = KnownHostsFile::new("/dev/null");
    assert!(file.add("h.example", 22, &key(1)).unwrap());
}

/// `StrictHostKeyChecking no`: a changed key is warned about and accepted
/// without being saved, and the verifier says so (until its next
/// verification of a key that did not change).
#[test]
fn accept_changed_goes_on_and_says_passwords_are_off() {
    let dir = TempDir::new();
    let file = KnownHostsFile::new(dir.0.join("known_hosts"));
    file.add("h.example", 22, &key(1)).unwrap();
    let before = fs::read_to_string(file.path()).unwrap();
    let ui = ScriptedUi::answering(false);
    let v = verifier(&file, KnownHostsPolicy::AcceptChanged, &ui);
    assert!(!v.accepted_changed_key());
    assert_eq!(
        v.verify_at("h.example", 22, None, &key(2)),
        HostKeyVerdict::Accept
    );
    assert!(v.clone().accepted_changed_key(), "clones share the state");
    let w = ui.warnings();
    assert!(w.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{w}");
    assert!(
        w.contains("Password authentication is disabled to avoid man-in-the-middle attacks."),
        "{w}"
    );
    assert_eq!(fs::read_to_string(file.path()).unwrap(), before);
    assert_eq!(
        v.verify_at("h.example", 22, None, &key(1)),
        HostKeyVerdict::Accept
    );
    assert!(!v.accepted_changed_key());
}
