//! `ProxyJump`: each jump host resolved with its own ssh_config, as
//! `ssh -J` resolves each hop (ssh.c turns the last hop into
//! `ssh -W [%h]:%p -l USER -p PORT -J EARLIER-HOPS HOP`, so a hop's user
//! and port come from the list, else its own configuration, and a hop after
//! the first is reached through the hops before it, whatever its own
//! `ProxyJump` or `ProxyCommand` say).

use std::sync::Arc;

use crate::ssh_config::{ConfigError, ResolvedConfig, SshConfig};
use crate::{HostConfig, HostKeyUi};

/// How deep a first hop's own `ProxyJump` may nest (a hop whose first hop
/// has jump hosts of its own...), so a cycle through the files ends.
pub const MAX_JUMP_DEPTH: usize = 8;

/// Command-line options that name the destination, not its jump hosts:
/// the hops get the other ones (`-i`, `-o UserKnownHostsFile`, ...).
const DESTINATION_ONLY: [&str; 7] = [
    "hostname",
    "port",
    "user",
    "proxyjump",
    "proxycommand",
    "hostkeyalias",
    "remotecommand",
];

/// Whether a `Keyword value` (or `Keyword=value`) line names the
/// destination.
fn names_destination(line: &str) -> bool {
    let keyword = line
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == '=')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    DESTINATION_ONLY.contains(&keyword.as_str())
}

/// A value as one ssh_config argument.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The jump hosts of `r`, first hop first, each resolved from the same
/// files and system view (`r.load_options()`), with its user and port from
/// the `ProxyJump` entry first, and the command line's options except
/// those naming the destination.
pub(super) fn resolve_jumps(
    r: &ResolvedConfig,
    ui: &Arc<dyn HostKeyUi>,
    depth: usize,
) -> Result<Vec<HostConfig>, ConfigError> {
    let hops = r.proxy_jump_hosts()?;
    if hops.is_empty() {
        return Ok(Vec::new());
    }
    if depth >= MAX_JUMP_DEPTH {
        return Err(ConfigError {
            file: "ProxyJump".into(),
            line: 0,
            message: format!(
                "jump hosts of {} nested more than {MAX_JUMP_DEPTH} deep",
                r.host()
            ),
        });
    }
    let base = r.load_options();
    let mut out = Vec::with_capacity(hops.len());
    for (i, hop) in hops.iter().enumerate() {
        let mut lines = Vec::new();
        if let Some(user) = &hop.user {
            lines.push(format!("User {}", quote(user)));
        }
        if let Some(port) = hop.port {
            lines.push(format!("Port {port}"));
        }
        if i > 0 {
            // Reached through the hops before it (`-J EARLIER-HOPS`).
            lines.push("ProxyJump none".into());
        }
        lines.extend(
            base.command_line
                .iter()
                .filter(|l| !names_destination(l))
                .cloned(),
        );
        let mut load = base.clone();
        load.command_line = lines;
        let resolved = SshConfig::load(&hop.host, &load)?;
        out.push(HostConfig::resolve_at_depth(
            resolved,
            ui.clone(),
            depth + 1,
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_lines_stay_with_the_destination() {
        assert!(names_destination("Port 2222"));
        assert!(names_destination("user=alice"));
        assert!(names_destination("  ProxyJump a,b"));
        assert!(!names_destination("IdentityFile \"/k\""));
        assert!(!names_destination("UserKnownHostsFile=/kh"));
    }
}
