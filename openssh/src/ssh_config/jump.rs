//! `ProxyJump`'s value: comma-separated `[user@]host[:port]` jump hosts
//! (ssh_config(5) `ProxyJump`, ssh(1) `-J`), first hop first.

/// One jump host of `ProxyJump` / `-J`: `[user@]host[:port]`. What is not
/// given comes from the jump host's own ssh_config, as `ssh -J` resolves
/// each hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    /// The user, if given.
    pub user: Option<String>,
    /// The host (an alias of its own ssh_config), without `[...]`.
    pub host: String,
    /// The port, if given.
    pub port: Option<u16>,
}

/// Parses a `ProxyJump` list (not `none`; `ssh://` URLs are not taken):
/// the error is ssh's "Invalid ProxyJump" message.
pub fn parse_proxy_jump(list: &str) -> Result<Vec<JumpHost>, String> {
    let bad = || format!("Invalid ProxyJump \"{list}\"");
    list.split(',')
        .map(|hop| {
            let (user, rest) = match hop.rsplit_once('@') {
                Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
                Some(_) => return Err(bad()),
                None => (None, hop),
            };
            // `[v6addr]:port`, `host:port` or `host` (ssh's `hpdelim`).
            let (host, port) = match rest.strip_prefix('[') {
                Some(b) => {
                    let (h, after) = b.split_once(']').ok_or_else(bad)?;
                    match after {
                        "" => (h, None),
                        p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
                    }
                }
                None => match rest.split_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (rest, None),
                },
            };
            let port = port
                .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad))
                .transpose()?;
            if host.is_empty() || host.contains(char::is_whitespace) {
                return Err(bad());
            }
            Ok(JumpHost {
                user,
                host: host.to_string(),
                port,
            })
        })
        .collect()
}
