//! known_hosts files written and read by OpenSSH's own tools, to check that
//! Conch reads what OpenSSH writes and writes what OpenSSH reads.
//!
//! Ways to get a file OpenSSH wrote:
//! - [`keyscan`]: `ssh-keyscan` output (plain or hashed);
//! - `ssh` itself learning a key: `sshd.ssh_client().known_hosts_file(&path)
//!   .strict_host_key_checking("accept-new").option("HashKnownHosts=yes")
//!   .run("true")`;
//! - [`hash_known_hosts`]: `ssh-keygen -H` over a plain file.
//!
//! And to check a file Conch wrote: [`openssh_lookup`] (`ssh-keygen -F`).

use std::path::Path;
use std::process::Command;

use crate::keys::KeyType;
use crate::net::LOOPBACK;
use crate::process::{require_program, run_bounded, run_tool, Input, TOOL_TIMEOUT};

/// The host field OpenSSH uses for a loopback server on `port`:
/// `[127.0.0.1]:port`, or plain `127.0.0.1` for port 22.
pub fn host_pattern(port: u16) -> String {
    host_pattern_for(&LOOPBACK.to_string(), port)
}

/// The host field OpenSSH uses for `host` (a name or an address, IPv6
/// without brackets) on `port`: `[host]:port`, or plain `host` for port 22.
pub fn host_pattern_for(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Writes `lines` (one entry each) to `path`, replacing it.
#[track_caller]
pub fn write_known_hosts(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
}

/// Hashes every host name in `path` in place with `ssh-keygen -H` (entries
/// become `|1|salt|hash type key`), and removes the `.old` backup it leaves.
#[track_caller]
pub fn hash_known_hosts(path: &Path) {
    require_program("ssh-keygen", "openssh-client");
    run_tool(Command::new("ssh-keygen").arg("-H").arg("-f").arg(path));
    let mut backup = path.as_os_str().to_owned();
    backup.push(".old");
    let _ = std::fs::remove_file(backup);
}

/// Asks the server on `port` for its host key of `key_type` with
/// `ssh-keyscan` and returns the known_hosts lines it prints (hashed with
/// `-H` if `hashed`). Panics if there are none.
#[track_caller]
pub fn keyscan(port: u16, key_type: KeyType, hashed: bool) -> Vec<String> {
    require_program("ssh-keyscan", "openssh-client");
    let keyscan_type = match key_type {
        KeyType::Ed25519 => "ed25519",
        KeyType::Rsa => "rsa",
        KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => "ecdsa",
    };
    let mut command = Command::new("ssh-keyscan");
    command
        .args(["-T", "10", "-p", &port.to_string(), "-t", keyscan_type])
        .args(hashed.then_some("-H"))
        .arg(LOOPBACK.to_string());
    let scanned = run_tool(&mut command);
    let lines: Vec<String> = scanned
        .stdout_text()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if lines.is_empty() {
        scanned.fail("ssh-keyscan found no key");
    }
    lines
}

/// The entries OpenSSH finds for `host` (e.g. [`host_pattern`]) in the
/// known_hosts file at `path` (`ssh-keygen -F`), hashed entries included;
/// empty if none match.
#[track_caller]
pub fn openssh_lookup(path: &Path, host: &str) -> Vec<String> {
    require_program("ssh-keygen", "openssh-client");
    let found = run_bounded(
        Command::new("ssh-keygen")
            .args(["-F", host, "-f"])
            .arg(path),
        Input::Null,
        TOOL_TIMEOUT,
    );
    match found.code() {
        Some(0) => found
            .stdout_text()
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        // ssh-keygen -F exits 1 when the host is not found.
        Some(1) => Vec::new(),
        _ => found.fail("ssh-keygen -F failed"),
    }
}
