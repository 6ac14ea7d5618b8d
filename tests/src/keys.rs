//! Key pairs made by the real tools: `ssh-keygen` (OpenSSH format, for sshd,
//! `ssh`, `ssh-agent` and Conch) and `dropbearkey` (dropbear's host keys).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dir::TestDir;
use crate::process::{require_program, run_tool};

/// The key types the peers support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ssh-rsa` keys (3072 bits, `ssh-keygen`'s default), signing with
    /// `rsa-sha2-256`/`rsa-sha2-512`.
    Rsa,
    /// `ecdsa-sha2-nistp256`.
    EcdsaP256,
    /// `ecdsa-sha2-nistp384`.
    EcdsaP384,
    /// `ecdsa-sha2-nistp521`.
    EcdsaP521,
}

impl KeyType {
    /// Every type, for loops in algorithm tests.
    pub const ALL: [KeyType; 5] = [
        KeyType::Ed25519,
        KeyType::Rsa,
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::EcdsaP521,
    ];

    /// The key format name that starts public key lines (`ssh-rsa` for RSA,
    /// whatever signature algorithm is used).
    pub fn key_name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ssh-ed25519",
            KeyType::Rsa => "ssh-rsa",
            KeyType::EcdsaP256 => "ecdsa-sha2-nistp256",
            KeyType::EcdsaP384 => "ecdsa-sha2-nistp384",
            KeyType::EcdsaP521 => "ecdsa-sha2-nistp521",
        }
    }

    /// A short name for file names.
    pub fn short_name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa => "rsa",
            KeyType::EcdsaP256 => "ecdsa256",
            KeyType::EcdsaP384 => "ecdsa384",
            KeyType::EcdsaP521 => "ecdsa521",
        }
    }

    /// `-t TYPE [-b BITS]` for `ssh-keygen` and `-t TYPE [-s BITS]` for
    /// `dropbearkey`: (type, bits).
    fn type_and_bits(self) -> (&'static str, Option<&'static str>) {
        match self {
            KeyType::Ed25519 => ("ed25519", None),
            KeyType::Rsa => ("rsa", Some("3072")),
            KeyType::EcdsaP256 => ("ecdsa", Some("256")),
            KeyType::EcdsaP384 => ("ecdsa", Some("384")),
            KeyType::EcdsaP521 => ("ecdsa", Some("521")),
        }
    }
}

/// A private key file and its public half.
#[derive(Clone, Debug)]
pub struct KeyPair {
    /// The type.
    pub key_type: KeyType,
    /// The private key file (`0600`).
    pub private_path: PathBuf,
    /// The public key file (`<private>.pub`; for dropbear keys, written by
    /// this crate from `dropbearkey -y`).
    pub public_path: PathBuf,
    /// The public key line: `<key name> <base64> <comment>`.
    pub public_line: String,
    /// The passphrase the private key is encrypted with, if any.
    pub passphrase: Option<String>,
}

impl KeyPair {
    /// Generates `<dir>/<name>` (and `<name>.pub`) with `ssh-keygen` in
    /// OpenSSH's `openssh-key-v1` format, encrypted with `passphrase` if
    /// given (bcrypt-pbkdf + aes256-ctr, `ssh-keygen`'s defaults).
    #[track_caller]
    pub fn generate(
        dir: &TestDir,
        name: &str,
        key_type: KeyType,
        passphrase: Option<&str>,
    ) -> Self {
        require_program("ssh-keygen", "openssh-client");
        let private_path = dir.join(name);
        let (kind, bits) = key_type.type_and_bits();
        let mut command = Command::new("ssh-keygen");
        command.args(["-q", "-t", kind]);
        if let Some(bits) = bits {
            command.args(["-b", bits]);
        }
        command
            .args(["-N", passphrase.unwrap_or("")])
            .args(["-C", &format!("conch-interop-{name}")])
            .arg("-f")
            .arg(&private_path);
        run_tool(&mut command);
        let public_path = dir.join(&format!("{name}.pub"));
        let public_line = read_public_line(&public_path);
        KeyPair {
            key_type,
            private_path,
            public_path,
            public_line,
            passphrase: passphrase.map(str::to_owned),
        }
    }

    /// Generates a dropbear host key `<dir>/<name>` with `dropbearkey` and
    /// writes its public line to `<name>.pub`.
    #[track_caller]
    pub fn generate_dropbear(dir: &TestDir, name: &str, key_type: KeyType) -> Self {
        require_program("dropbearkey", "dropbear-bin");
        let private_path = dir.join(name);
        let (kind, bits) = key_type.type_and_bits();
        let mut command = Command::new("dropbearkey");
        command.args(["-t", kind]);
        if let Some(bits) = bits {
            command.args(["-s", bits]);
        }
        command.arg("-f").arg(&private_path);
        run_tool(&mut command);
        let printed = run_tool(
            Command::new("dropbearkey")
                .arg("-y")
                .arg("-f")
                .arg(&private_path),
        );
        let public_line = printed
            .stdout_text()
            .lines()
            .find(|line| line.starts_with(key_type.key_name()))
            .unwrap_or_else(|| printed.fail("no public key line in `dropbearkey -y` output"))
            .trim()
            .to_owned();
        let public_path = dir.write(&format!("{name}.pub"), format!("{public_line}\n"));
        KeyPair {
            key_type,
            private_path,
            public_path,
            public_line,
            passphrase: None,
        }
    }

    /// The base64 key blob (second field of the public line).
    pub fn public_base64(&self) -> &str {
        self.public_line.split_whitespace().nth(1).unwrap_or("")
    }

    /// `<key name> <base64>`, without the comment: the form known_hosts and
    /// authorized_keys lines carry.
    pub fn public_key(&self) -> String {
        format!("{} {}", self.key_type.key_name(), self.public_base64())
    }

    /// A plain known_hosts line `<hosts> <key name> <base64>` (see
    /// [`crate::known_hosts::host_pattern`] for `hosts`).
    pub fn known_hosts_line(&self, hosts: &str) -> String {
        format!("{hosts} {}", self.public_key())
    }

    /// The SHA256 fingerprint as OpenSSH prints it (`SHA256:...`), from
    /// `ssh-keygen -l`.
    #[track_caller]
    pub fn fingerprint(&self) -> String {
        let printed = run_tool(
            Command::new("ssh-keygen")
                .args(["-l", "-E", "sha256", "-f"])
                .arg(&self.public_path),
        );
        printed
            .stdout_text()
            .split_whitespace()
            .nth(1)
            .map(str::to_owned)
            .unwrap_or_else(|| printed.fail("no fingerprint in `ssh-keygen -l` output"))
    }
}

#[track_caller]
fn read_public_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
        .trim()
        .to_owned()
}
