//! `conch`'s forwarding options as ssh takes them: `-L`, `-R`, `-D`, `-W`,
//! `-N` and the ssh_config keywords `LocalForward`, `RemoteForward`,
//! `DynamicForward` and `ExitOnForwardFailure` (from `-o` or the files),
//! resolved with conch-openssh's ssh_config parser. (`-J` is a `ProxyJump`
//! option line, which `conch_openssh::HostConfig` acts on.)

use conch_openssh::ssh_config::{ConfigFiles, Endpoint, Forward, LoadOptions, SshConfig};

/// Splits at `:` outside `[...]` (ssh's `hpdelim`), keeping the brackets.
fn fields(spec: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut depth) = (0, 0u32);
    for (i, c) in spec.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                out.push(&spec[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&spec[start..]);
    out
}

fn is_path(s: &str) -> bool {
    s.contains('/')
}

/// `host` as the ssh_config form writes it beside a port.
fn host(h: &str) -> String {
    if h.starts_with('[') {
        h.to_string()
    } else {
        format!("[{h}]")
    }
}

/// The ssh_config line for one `-L` or `-R` argument (ssh's command-line
/// `parse_forward`: `[bind:]port:host:hostport`, `[bind:]port:socket`,
/// `socket:host:hostport`, `socket:socket`).
pub fn forward_line(keyword: &str, spec: &str) -> Result<String, String> {
    let bad = || {
        format!("Bad {} forwarding specification '{spec}'", {
            if keyword == "LocalForward" {
                "local"
            } else {
                "remote"
            }
        })
    };
    let f = fields(spec);
    let (listen, connect) = match f.as_slice() {
        [bind, port, h, hp] => (
            format!("{}:{port}", host(bind)),
            format!("{}:{hp}", host(h)),
        ),
        [first, h, hp] if is_path(first) => (first.to_string(), format!("{}:{hp}", host(h))),
        [bind, port, sock] if is_path(sock) => (format!("{}:{port}", host(bind)), sock.to_string()),
        [port, h, hp] => (port.to_string(), format!("{}:{hp}", host(h))),
        [first, sock] if is_path(sock) => (first.to_string(), sock.to_string()),
        // `-R [bind:]port` with no target: remote dynamic forwarding
        // (OpenSSH 7.6), the client being the SOCKS proxy.
        [port] if keyword == "RemoteForward" && port.parse::<u16>().is_ok() => {
            return Ok(format!("{keyword} {port}"));
        }
        [bind, port] if keyword == "RemoteForward" && port.parse::<u16>().is_ok() => {
            return Ok(format!("{keyword} {}:{port}", host(bind)));
        }
        _ => return Err(bad()),
    };
    Ok(format!("{keyword} {listen} {connect}"))
}

/// `-W host:port`.
pub fn parse_stdio(spec: &str) -> Result<(String, u16), String> {
    let bad = || format!("Bad stdio forwarding specification '{spec}'");
    let f = fields(spec);
    let [h, p] = f.as_slice() else {
        return Err(bad());
    };
    let h = h.trim_start_matches('[').trim_end_matches(']');
    let p: u16 = p.parse().map_err(|_| bad())?;
    if h.is_empty() {
        return Err(bad());
    }
    Ok((h.to_string(), p))
}

/// What the forwarding options resolved to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardSetup {
    /// `-L`/`LocalForward`.
    pub local: Vec<Forward>,
    /// `-R`/`RemoteForward`.
    pub remote: Vec<Forward>,
    /// `-D`/`DynamicForward`.
    pub dynamic: Vec<Forward>,
    /// `ExitOnForwardFailure`.
    pub exit_on_failure: bool,
    /// `GatewayPorts`: local listeners with no bind address on
    /// every address instead of loopback.
    pub gateway_ports: bool,
}

impl ForwardSetup {
    /// Whether anything asks for forwarding.
    pub fn is_empty(&self) -> bool {
        self.local.is_empty() && self.remote.is_empty() && self.dynamic.is_empty()
    }
}

/// Resolves the forwarding keywords for `host` from `lines` (the command
/// line's, in ssh_config form, first so they win where one value counts)
/// and the files.
pub fn resolve(
    host: &str,
    files: &ConfigFiles,
    lines: &[String],
    mut load: LoadOptions,
) -> Result<ForwardSetup, String> {
    load.files = files.clone();
    load.command_line = lines.to_vec();
    let config = SshConfig::load(host, &load).map_err(|e| e.to_string())?;
    Ok(ForwardSetup {
        local: config.local_forwards(),
        remote: config.remote_forwards(),
        dynamic: config.dynamic_forwards(),
        exit_on_failure: config.exit_on_forward_failure(),
        gateway_ports: config.gateway_ports(),
    })
}

/// A forward's listening side as ssh's messages name it.
pub fn describe(e: &Endpoint) -> String {
    match e {
        Endpoint::Path(p) => p.clone(),
        Endpoint::Tcp {
            host: Some(h),
            port,
        } => format!("{h}:{port}"),
        Endpoint::Tcp { host: None, port } => port.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_specs_become_config_lines() {
        let l = |s| forward_line("LocalForward", s).unwrap();
        assert_eq!(l("8080:db:5432"), "LocalForward 8080 [db]:5432");
        assert_eq!(
            l("127.0.0.1:8080:[::1]:5432"),
            "LocalForward [127.0.0.1]:8080 [::1]:5432"
        );
        assert_eq!(
            l("/tmp/l.sock:db:5432"),
            "LocalForward /tmp/l.sock [db]:5432"
        );
        assert_eq!(l("8080:/run/db.sock"), "LocalForward 8080 /run/db.sock");
        assert_eq!(l("/a.sock:/b.sock"), "LocalForward /a.sock /b.sock");
        // Remote dynamic forwarding: a listen side only.
        let r = |s| forward_line("RemoteForward", s);
        assert_eq!(r("8080").unwrap(), "RemoteForward 8080");
        assert_eq!(
            r("127.0.0.1:8080").unwrap(),
            "RemoteForward [127.0.0.1]:8080"
        );
        assert!(r("db")
            .unwrap_err()
            .contains("Bad remote forwarding specification"));
        assert!(forward_line("LocalForward", "8080")
            .unwrap_err()
            .contains("Bad local forwarding specification"));
        assert_eq!(parse_stdio("db:5432").unwrap(), ("db".into(), 5432));
        assert_eq!(parse_stdio("[::1]:22").unwrap(), ("::1".into(), 22));
        assert!(parse_stdio("db").is_err());
    }
}
