//! The keywords of ssh_config(5) and the type of each one's value, checked
//! as OpenSSH's `readconf.c` checks it. Each value is stored normalised to
//! the spelling `ssh -G` prints (`yes` becomes `true` for the options
//! `ssh` prints that way, durations become seconds).

use super::expand::{parse_duration, parse_size};

/// The value type of a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `yes`/`no`/`true`/`false`, printed `yes`/`no`.
    Flag,
    /// One of a fixed set of words: (accepted, printed).
    Choice(&'static [(&'static str, &'static str)]),
    /// A non-negative integer (`atoi_err`: 0 to `INT_MAX`).
    Int,
    /// A port, 1 to 65535.
    Port,
    /// A duration (`convtime`): `90`, `1m30s`, `2h`; stored in seconds.
    Time,
    /// One word, kept as written.
    Word,
    /// The rest of the line, kept raw (`ProxyCommand`, `RemoteCommand`).
    Rest,
    /// Several words on one line; the first line wins.
    Words,
    /// One word per line, every line accumulating (`IdentityFile`).
    AccumulateWord,
    /// A forward: local (listen, connect), remote, or dynamic (listen).
    Forward(ForwardKind),
    /// `SendEnv`: names accumulate, `-pattern` removes.
    SendEnv,
    /// `SetEnv`: `NAME=VALUE` words; the first line wins.
    SetEnv,
    /// An algorithm list with the `+`, `-`, `^` modifiers.
    Algorithms(Slot),
    /// `RekeyLimit SIZE [TIME]`.
    Rekey,
    /// `LogLevel`.
    LogLevel,
    /// `ForwardAgent`: a flag or a socket path.
    ForwardAgent,
    /// A keyword ssh knows and conch keeps without interpreting: its words
    /// are stored, first line wins, and -G does not print it.
    Known,
    /// A keyword ssh accepts and ignores (deprecated or unsupported).
    Ignored,
}

/// Which forward a forwarding keyword sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ForwardKind {
    Local,
    Remote,
    Dynamic,
}

/// The algorithm slot of an algorithm-list keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `Ciphers`.
    Cipher,
    /// `MACs`.
    Mac,
    /// `KexAlgorithms`.
    Kex,
    /// `HostKeyAlgorithms`.
    HostKey,
    /// `PubkeyAcceptedAlgorithms`.
    PubkeyAccepted,
}

const STRICT: &[(&str, &str)] = &[
    ("true", "true"),
    ("false", "false"),
    ("yes", "true"),
    ("no", "false"),
    ("ask", "ask"),
    ("off", "false"),
    ("accept-new", "accept-new"),
];
const REQUEST_TTY: &[(&str, &str)] = &[
    ("true", "true"),
    ("false", "false"),
    ("yes", "true"),
    ("no", "false"),
    ("force", "force"),
    ("auto", "auto"),
];
const PUBKEY_AUTH: &[(&str, &str)] = &[
    ("true", "true"),
    ("false", "false"),
    ("yes", "true"),
    ("no", "false"),
    ("unbound", "unbound"),
    ("host-bound", "host-bound"),
];
const UPDATE_HOSTKEYS: &[(&str, &str)] = &[
    ("true", "true"),
    ("false", "false"),
    ("yes", "true"),
    ("no", "false"),
    ("ask", "ask"),
];
const ADDRESS_FAMILY: &[(&str, &str)] = &[("inet", "inet"), ("inet6", "inet6"), ("any", "any")];
const COMPRESSION: &[(&str, &str)] = &[("yes", "yes"), ("no", "no")];

/// Every keyword: its lower-case name and its kind. The options issue 16
/// names are typed; the rest of OpenSSH 9's keywords are `Known` (kept,
/// reported by the library, not acted on) or `Ignored` (as ssh ignores
/// them).
pub(crate) const KEYWORDS: &[(&str, Kind)] = &[
    ("hostname", Kind::Word),
    ("port", Kind::Port),
    ("user", Kind::Word),
    ("identityfile", Kind::AccumulateWord),
    ("identitiesonly", Kind::Flag),
    ("identityagent", Kind::Word),
    ("certificatefile", Kind::AccumulateWord),
    ("userknownhostsfile", Kind::Words),
    ("globalknownhostsfile", Kind::Words),
    ("stricthostkeychecking", Kind::Choice(STRICT)),
    ("hashknownhosts", Kind::Flag),
    ("checkhostip", Kind::Flag),
    ("updatehostkeys", Kind::Choice(UPDATE_HOSTKEYS)),
    ("proxyjump", Kind::Word),
    ("proxycommand", Kind::Rest),
    ("localforward", Kind::Forward(ForwardKind::Local)),
    ("remoteforward", Kind::Forward(ForwardKind::Remote)),
    ("dynamicforward", Kind::Forward(ForwardKind::Dynamic)),
    ("exitonforwardfailure", Kind::Flag),
    ("serveraliveinterval", Kind::Time),
    ("serveralivecountmax", Kind::Int),
    ("connecttimeout", Kind::Time),
    ("connectionattempts", Kind::Int),
    ("addressfamily", Kind::Choice(ADDRESS_FAMILY)),
    ("batchmode", Kind::Flag),
    ("preferredauthentications", Kind::Word),
    ("pubkeyauthentication", Kind::Choice(PUBKEY_AUTH)),
    ("passwordauthentication", Kind::Flag),
    ("kbdinteractiveauthentication", Kind::Flag),
    ("challengeresponseauthentication", Kind::Flag),
    ("numberofpasswordprompts", Kind::Int),
    ("ciphers", Kind::Algorithms(Slot::Cipher)),
    ("macs", Kind::Algorithms(Slot::Mac)),
    ("kexalgorithms", Kind::Algorithms(Slot::Kex)),
    ("hostkeyalgorithms", Kind::Algorithms(Slot::HostKey)),
    (
        "pubkeyacceptedalgorithms",
        Kind::Algorithms(Slot::PubkeyAccepted),
    ),
    (
        "pubkeyacceptedkeytypes",
        Kind::Algorithms(Slot::PubkeyAccepted),
    ),
    ("rekeylimit", Kind::Rekey),
    ("sendenv", Kind::SendEnv),
    ("setenv", Kind::SetEnv),
    ("requesttty", Kind::Choice(REQUEST_TTY)),
    ("remotecommand", Kind::Rest),
    ("forwardagent", Kind::ForwardAgent),
    ("loglevel", Kind::LogLevel),
    ("compression", Kind::Choice(COMPRESSION)),
    ("hostkeyalias", Kind::Word),
    ("tcpkeepalive", Kind::Flag),
    // Known to OpenSSH 9, kept but not acted on by conch.
    ("addkeystoagent", Kind::Known),
    ("bindaddress", Kind::Known),
    ("bindinterface", Kind::Known),
    ("canonicaldomains", Kind::Known),
    ("canonicalizefallbacklocal", Kind::Known),
    ("canonicalizehostname", Kind::Known),
    ("canonicalizemaxdots", Kind::Int),
    ("canonicalizepermittedcnames", Kind::Known),
    ("casignaturealgorithms", Kind::Known),
    ("clearallforwardings", Kind::Flag),
    ("controlmaster", Kind::Known),
    ("controlpath", Kind::Known),
    ("controlpersist", Kind::Known),
    ("enableescapecommandline", Kind::Flag),
    ("enablesshkeysign", Kind::Flag),
    ("escapechar", Kind::Known),
    ("fingerprinthash", Kind::Known),
    ("forkafterauthentication", Kind::Flag),
    ("forwardx11", Kind::Flag),
    ("forwardx11timeout", Kind::Time),
    ("forwardx11trusted", Kind::Flag),
    ("gatewayports", Kind::Flag),
    ("gssapiauthentication", Kind::Flag),
    ("gssapidelegatecredentials", Kind::Flag),
    ("hostbasedacceptedalgorithms", Kind::Known),
    ("hostbasedkeytypes", Kind::Known),
    ("hostbasedauthentication", Kind::Flag),
    ("ipqos", Kind::Known),
    ("kbdinteractivedevices", Kind::Known),
    ("knownhostscommand", Kind::Known),
    ("localcommand", Kind::Known),
    ("logverbose", Kind::Known),
    ("nohostauthenticationforlocalhost", Kind::Flag),
    ("permitlocalcommand", Kind::Flag),
    ("permitremoteopen", Kind::Known),
    ("pkcs11provider", Kind::Known),
    ("smartcarddevice", Kind::Known),
    ("proxyusefdpass", Kind::Flag),
    ("requiredrsasize", Kind::Int),
    ("revokedhostkeys", Kind::Known),
    ("securitykeyprovider", Kind::Known),
    ("sessiontype", Kind::Known),
    ("stdinnull", Kind::Flag),
    ("streamlocalbindmask", Kind::Known),
    ("streamlocalbindunlink", Kind::Flag),
    ("syslogfacility", Kind::Known),
    ("tunnel", Kind::Known),
    ("tunneldevice", Kind::Known),
    ("verifyhostkeydns", Kind::Known),
    ("visualhostkey", Kind::Flag),
    ("xauthlocation", Kind::Known),
    // Deprecated or unsupported keywords ssh accepts with a warning.
    ("protocol", Kind::Ignored),
    ("cipher", Kind::Ignored),
    ("fallbacktorsh", Kind::Ignored),
    ("usersh", Kind::Ignored),
    ("useprivilegedport", Kind::Ignored),
    ("userkeychain", Kind::Ignored),
    ("useroaming", Kind::Ignored),
    ("rsaauthentication", Kind::Ignored),
    ("rhostsrsaauthentication", Kind::Ignored),
    ("compressionlevel", Kind::Ignored),
    ("globalknownhostsfile2", Kind::Ignored),
    ("userknownhostsfile2", Kind::Ignored),
    ("identityfile2", Kind::Ignored),
    ("afstokenpassing", Kind::Ignored),
    ("kerberosauthentication", Kind::Ignored),
    ("kerberostgtpassing", Kind::Ignored),
    // Debian's GSSAPI key exchange patch.
    ("gssapikeyexchange", Kind::Flag),
    ("gssapitrustdns", Kind::Flag),
    ("gssapirenewalforcesrekey", Kind::Flag),
    ("gssapikexalgorithms", Kind::Known),
    ("gssapiclientidentity", Kind::Known),
    ("gssapiserveridentity", Kind::Known),
];

/// The kind of `keyword` (any case), if ssh knows it.
pub(crate) fn kind_of(keyword: &str) -> Option<(&'static str, Kind)> {
    let lower = keyword.to_ascii_lowercase();
    KEYWORDS.iter().find(|(k, _)| *k == lower).map(|(k, kind)| {
        // Old spellings store under the current name, as ssh's aliases do.
        let canonical = match *k {
            "pubkeyacceptedkeytypes" => "pubkeyacceptedalgorithms",
            "challengeresponseauthentication" => "kbdinteractiveauthentication",
            "hostbasedkeytypes" => "hostbasedacceptedalgorithms",
            "smartcarddevice" => "pkcs11provider",
            other => other,
        };
        (canonical, *kind)
    })
}

/// Checks the words of a one-value option and returns them normalised.
/// `Err` holds ssh's complaint (the caller adds file and line).
pub(crate) fn parse_value(keyword: &str, kind: Kind, args: &[String]) -> Result<String, String> {
    let arg = args
        .first()
        .ok_or_else(|| format!("{keyword}: missing argument."))?;
    let lower = arg.to_ascii_lowercase();
    let value = match kind {
        Kind::Flag => match lower.as_str() {
            "yes" | "true" => "yes".to_string(),
            "no" | "false" => "no".to_string(),
            _ => return Err(format!("unsupported option \"{arg}\".")),
        },
        Kind::Choice(table) => table
            .iter()
            .find(|(accepted, _)| *accepted == lower)
            .map(|(_, printed)| printed.to_string())
            .ok_or_else(|| format!("unsupported option \"{arg}\"."))?,
        Kind::Int => arg
            .parse::<u32>()
            .ok()
            .filter(|v| *v <= i32::MAX as u32)
            .map(|v| v.to_string())
            .ok_or_else(|| format!("integer value invalid: {arg}."))?,
        Kind::Port => arg
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .map(|p| p.to_string())
            .ok_or_else(|| format!("Bad port '{arg}'."))?,
        Kind::Time => parse_duration(arg)
            .map(|s| s.to_string())
            .ok_or_else(|| "invalid time value.".to_string())?,
        Kind::LogLevel => LOG_LEVELS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(arg))
            .map(|(_, printed)| printed.to_string())
            .ok_or_else(|| format!("unsupported log level '{arg}'"))?,
        Kind::ForwardAgent => match lower.as_str() {
            "yes" | "true" => "yes".to_string(),
            "no" | "false" => "no".to_string(),
            _ => arg.clone(),
        },
        Kind::Rekey => {
            let bytes = if lower == "default" {
                0
            } else {
                let b = parse_size(arg).ok_or_else(|| format!("Bad RekeyLimit '{arg}'"))?;
                // ssh: "RekeyLimit too small" below 16 bytes.
                if b != 0 && b < 16 {
                    return Err("RekeyLimit too small".into());
                }
                b
            };
            let secs = match args.get(1).map(|s| s.to_ascii_lowercase()) {
                None => 0,
                Some(s) if s == "none" || s == "default" => 0,
                Some(s) => parse_duration(&s).ok_or_else(|| format!("invalid time value {s}."))?,
            };
            format!("{bytes} {secs}")
        }
        _ => arg.clone(),
    };
    Ok(value)
}

/// Log level names as ssh accepts them and prints them (`log_level_name`
/// gives the first name of a level, so `DEBUG1` prints `DEBUG`).
const LOG_LEVELS: &[(&str, &str)] = &[
    ("QUIET", "QUIET"),
    ("FATAL", "FATAL"),
    ("ERROR", "ERROR"),
    ("INFO", "INFO"),
    ("VERBOSE", "VERBOSE"),
    ("DEBUG", "DEBUG"),
    ("DEBUG1", "DEBUG"),
    ("DEBUG2", "DEBUG2"),
    ("DEBUG3", "DEBUG3"),
];

/// A parsed forwarding specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Listen address (`None`: the default, loopback) and port, or a
    /// Unix-domain socket path.
    pub listen: Endpoint,
    /// Where connections go; `None` for dynamic (SOCKS) forwards.
    pub connect: Option<Endpoint>,
}

/// One side of a forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An optional host and a TCP port.
    Tcp {
        /// The host (`*` for every address), if given.
        host: Option<String>,
        /// The port.
        port: u16,
    },
    /// A Unix-domain socket path.
    Path(String),
}

impl Endpoint {
    /// As `ssh -G` prints it: a path, a bare port, or `[host]:port`.
    pub fn to_ssh_string(&self) -> String {
        match self {
            Endpoint::Path(p) => p.clone(),
            Endpoint::Tcp { host: None, port } => port.to_string(),
            Endpoint::Tcp {
                host: Some(h),
                port,
            } => format!("[{h}]:{port}"),
        }
    }
}

/// Splits at `:` outside `[...]`, as ssh's `hpdelim` does.
fn colon_fields(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut bracket = false;
    for c in s.chars() {
        match c {
            '[' if !bracket => bracket = true,
            ']' if bracket => bracket = false,
            ':' if !bracket => out.push(String::new()),
            _ => {
                if let Some(last) = out.last_mut() {
                    last.push(c)
                }
            }
        }
    }
    out
}

fn parse_endpoint(s: &str, need_host: bool) -> Option<Endpoint> {
    if s.contains('/') && !s.starts_with('[') {
        return Some(Endpoint::Path(s.to_string()));
    }
    let fields = colon_fields(s);
    let port_of = |p: &str| p.parse::<u16>().ok();
    match fields.as_slice() {
        [port] if !need_host => Some(Endpoint::Tcp {
            host: None,
            port: port_of(port)?,
        }),
        [host, port] if !host.is_empty() => Some(Endpoint::Tcp {
            host: Some(host.clone()),
            port: port_of(port)?,
        }),
        _ => None,
    }
}

/// Parses a forward's words as ssh's `parse_forward` does.
pub(crate) fn parse_forward(kind: ForwardKind, args: &[String]) -> Result<Forward, String> {
    let bad = || format!("Bad forwarding specification '{}'", args.join(" "));
    let listen = args.first().ok_or_else(bad)?;
    let listen = parse_endpoint(listen, false).ok_or_else(bad)?;
    let connect = match (kind, args.get(1)) {
        (ForwardKind::Dynamic, None) => None,
        // A remote forward with no destination is a remote dynamic forward.
        (ForwardKind::Remote, None) => None,
        (ForwardKind::Local | ForwardKind::Remote, Some(c)) => {
            Some(parse_endpoint(c, true).ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    };
    if args.len() > 2 || (kind == ForwardKind::Dynamic && args.len() > 1) {
        return Err(bad());
    }
    Ok(Forward { listen, connect })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(kw: &str, args: &[&str]) -> Result<String, String> {
        let (_, kind) = kind_of(kw).unwrap();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_value(kw, kind, &args)
    }

    #[test]
    fn values_normalised_as_ssh_prints_them() {
        assert_eq!(v("BatchMode", &["True"]).unwrap(), "yes");
        assert_eq!(v("StrictHostKeyChecking", &["yes"]).unwrap(), "true");
        assert_eq!(v("StrictHostKeyChecking", &["off"]).unwrap(), "false");
        assert_eq!(v("RequestTTY", &["no"]).unwrap(), "false");
        assert_eq!(v("ServerAliveInterval", &["1h30m"]).unwrap(), "5400");
        assert_eq!(v("LogLevel", &["debug1"]).unwrap(), "DEBUG");
        assert_eq!(v("RekeyLimit", &["1G", "1h"]).unwrap(), "1073741824 3600");
        assert_eq!(v("RekeyLimit", &["default", "none"]).unwrap(), "0 0");
        assert_eq!(v("ForwardAgent", &["/tmp/sock"]).unwrap(), "/tmp/sock");
    }

    #[test]
    fn bad_values_rejected() {
        assert!(v("BatchMode", &["maybe"]).is_err());
        assert!(v("Port", &["0"]).is_err());
        assert!(v("Port", &["65536"]).is_err());
        assert!(v("ConnectionAttempts", &["-1"]).is_err());
        assert!(v("ConnectTimeout", &["5x"]).is_err());
        assert!(v("RekeyLimit", &["8"]).is_err());
        assert!(v("Port", &[]).is_err());
        assert!(v("AddressFamily", &["ipx"]).is_err());
    }

    #[test]
    fn forwards() {
        let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let f = parse_forward(ForwardKind::Local, &w(&["8080", "localhost:80"])).unwrap();
        assert_eq!(f.listen.to_ssh_string(), "8080");
        assert_eq!(f.connect.unwrap().to_ssh_string(), "[localhost]:80");
        let f = parse_forward(ForwardKind::Local, &w(&["[::1]:80", "/sock"])).unwrap();
        assert_eq!(f.listen.to_ssh_string(), "[::1]:80");
        assert_eq!(f.connect.unwrap().to_ssh_string(), "/sock");
        let f = parse_forward(ForwardKind::Dynamic, &w(&["*:1080"])).unwrap();
        assert_eq!(f.listen.to_ssh_string(), "[*]:1080");
        assert!(parse_forward(ForwardKind::Local, &w(&["8080"])).is_err());
        assert!(parse_forward(ForwardKind::Local, &w(&["x", "h:1"])).is_err());
        assert!(parse_forward(ForwardKind::Dynamic, &w(&["1", "h:1"])).is_err());
    }

    #[test]
    fn aliases_store_under_current_names() {
        assert_eq!(
            kind_of("PubkeyAcceptedKeyTypes").unwrap().0,
            "pubkeyacceptedalgorithms"
        );
        assert!(kind_of("NoSuchOption").is_none());
    }
}
