//! The known_hosts helper shared by the adapters, under processes saving at
//! once, and read back by OpenSSH's own `ssh-keygen -F`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use conch_core::known_hosts::{KnownHosts, Verdict};
use conch_core::PrivateKey;
use conch_interop::{run_bounded, Input, TestDir};
use conch_openssh::KnownHostsFile;
use rand_chacha::rand_core::SeedableRng;

const PROCESSES: u64 = 4;
const HOSTS: u64 = 30;
const ROLE_ENV: &str = "CONCH_KNOWN_HOSTS_CHILD";
const PATH_ENV: &str = "CONCH_KNOWN_HOSTS_PATH";

fn key(seed: u64) -> conch_core::PublicKey {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    PrivateKey::generate_ed25519(&mut rng).public_key().clone()
}

/// The work of one child process: save the shared hosts and its own.
/// Run by `concurrent_processes_never_corrupt_the_file` through this test
/// binary; does nothing when run on its own.
#[test]
fn child_appender() {
    let (Ok(role), Ok(path)) = (std::env::var(ROLE_ENV), std::env::var(PATH_ENV)) else {
        return;
    };
    let file = KnownHostsFile::new(&path);
    for h in 0..HOSTS {
        file.add(&format!("shared{h}.example"), 22, &key(h))
            .unwrap();
        file.add(&format!("p{role}-{h}.example"), 2222, &key(1000 + h))
            .unwrap();
    }
}

#[test]
fn concurrent_processes_never_corrupt_the_file() {
    let dir = TestDir::new("known-hosts-processes");
    let path = dir.join("ssh/known_hosts");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|role| {
            let mut command = Command::new(&exe);
            command
                .args([
                    "--exact",
                    "child_appender",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(ROLE_ENV, role.to_string())
                .env(PATH_ENV, &path);
            std::thread::spawn(move || {
                run_bounded(&mut command, Input::Null, Duration::from_secs(120))
            })
        })
        .collect();
    for child in children {
        child.join().unwrap().assert_success();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let known = KnownHosts::parse(&text);
    assert!(known.invalid_lines().is_empty(), "corrupt lines:\n{text}");
    assert_eq!(
        text.lines().count() as u64,
        HOSTS + PROCESSES * HOSTS,
        "every host exactly once"
    );
    for h in 0..HOSTS {
        assert!(matches!(
            known.check(&format!("shared{h}.example"), 22, None, &key(h)),
            Verdict::Known { .. }
        ));
        for role in 0..PROCESSES {
            assert!(matches!(
                known.check(&format!("p{role}-{h}.example"), 2222, None, &key(1000 + h)),
                Verdict::Known { .. }
            ));
        }
    }
    // OpenSSH finds the hashed entries Conch wrote.
    assert_eq!(openssh_lookup(&path, "shared7.example").len(), 1);
    assert_eq!(openssh_lookup(&path, "[p2-5.example]:2222").len(), 1);
    assert!(openssh_lookup(&path, "p2-5.example").is_empty());
}

fn openssh_lookup(path: &Path, host: &str) -> Vec<String> {
    conch_interop::known_hosts::openssh_lookup(path, host)
}
