//! The reading rules of ssh_config(5), each checked through the public API.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A scratch directory removed on drop (the crate has no tempfile).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("conch-sshcfg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join(".ssh")).unwrap();
        Scratch(p)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Options reading `text` as `-F` file.
    fn options(&self, text: &str) -> LoadOptions {
        let f = self.write("config", text);
        LoadOptions::isolated(&self.0).with_file(f)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(text: &str, host: &str) -> Result<ResolvedConfig, ConfigError> {
    let s = Scratch::new();
    SshConfig::load(host, &s.options(text))
}

#[test]
fn first_value_wins_in_file_order() {
    let text = "Host db\n  Port 2222\n  User alice\nHost *\n  Port 1\n  User bob\n  HostName fallback.example\n";
    let c = load(text, "db").unwrap();
    assert_eq!(
        (c.port(), c.user(), c.hostname()),
        (2222, "alice", "fallback.example")
    );
    let c = load(text, "web").unwrap();
    assert_eq!((c.port(), c.user()), (1, "bob"));
}

#[test]
fn keywords_any_case_equals_and_quotes() {
    let c = load("HOSTNAME=\"real host\"\nport = 2200\n", "x").unwrap();
    assert_eq!(c.hostname(), "real host");
    assert_eq!(c.port(), 2200);
}

#[test]
fn host_patterns_and_negation() {
    let text = "Host *.example.org !secret.example.org web?\n  User matched\n";
    assert_eq!(load(text, "a.example.org").unwrap().user(), "matched");
    assert_eq!(load(text, "web1").unwrap().user(), "matched");
    assert_eq!(load(text, "secret.example.org").unwrap().user(), "user");
    assert_eq!(load(text, "web12").unwrap().user(), "user");
    // Host patterns match the name as typed (ssh does not fold case here).
    assert_eq!(load("Host db\n User u2\n", "DB").unwrap().user(), "user");
}

#[test]
fn accumulating_options() {
    let text = "Host *\n  IdentityFile ~/.ssh/a\n  CertificateFile ~/c1\n  SendEnv LANG LC_*\n  LocalForward 8080 localhost:80\n  SetEnv A=1 A=2\n\
                Host db\n  IdentityFile ~/.ssh/b\n  IdentityFile ~/.ssh/a\n  SendEnv -LC_* TERM\n  LocalForward 9090 /sock\n  SetEnv B=3\n  DynamicForward 1080\n";
    let c = load(text, "db").unwrap();
    let home = c.tokens().home.clone();
    assert_eq!(
        c.identity_files().unwrap(),
        [
            PathBuf::from(format!("{home}/.ssh/a")),
            PathBuf::from(format!("{home}/.ssh/b"))
        ]
    );
    assert_eq!(c.certificate_files().unwrap().len(), 1);
    assert_eq!(c.send_env(), ["LANG", "TERM"]);
    assert_eq!(c.local_forwards().len(), 2);
    assert_eq!(c.dynamic_forwards().len(), 1);
    // OpenSSH 9.2: the first SetEnv line wins, first value per name.
    assert_eq!(c.set_env(), [("A".to_string(), "1".to_string())]);
}

#[test]
fn match_criteria() {
    let text = "Match originalhost db\n  HostName db.internal\n\
                Match host db.internal user admin\n  Port 2201\n\
                Match host db.internal\n  Port 2202\n\
                Match localuser user !user admin\n  ConnectTimeout 9\n\
                Match all\n  ServerAliveInterval 5\n";
    let s = Scratch::new();
    let o = s.options(text);
    let c = SshConfig::load("db", &o).unwrap();
    assert_eq!((c.hostname(), c.port()), ("db.internal", 2202));
    assert_eq!(c.connect_timeout(), Some(std::time::Duration::from_secs(9)));
    assert_eq!(
        c.server_alive_interval(),
        Some(std::time::Duration::from_secs(5))
    );
    let c = SshConfig::load("db", &o.clone().with_option("User admin")).unwrap();
    assert_eq!(c.port(), 2201);
    assert_eq!(c.connect_timeout(), None);
}

/// Records the commands `Match exec` runs; succeeds on those containing "yes".
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl CommandRunner for Recorder {
    fn run(&self, command: &str) -> std::io::Result<bool> {
        self.0.lock().unwrap().push(command.to_string());
        Ok(command.contains("yes"))
    }
}

#[test]
fn match_exec_expands_tokens_and_stops_after_a_failed_criterion() {
    let text = "Match exec \"check yes %h %n %p %r %u %%\"\n  User viaexec\n\
                Match host nomatch exec \"never run\"\n  Port 3\n\
                Match !exec \"check no\"\n  Port 4\n";
    let s = Scratch::new();
    let rec = Arc::new(Recorder::default());
    let o = s
        .options(text)
        .with_runner(rec.clone())
        .with_option("HostName H.example");
    let c = SshConfig::load("alias", &o).unwrap();
    assert_eq!((c.user(), c.port()), ("viaexec", 4));
    let ran = rec.0.lock().unwrap().clone();
    assert_eq!(
        ran,
        ["check yes H.example alias 22 user user %", "check no"]
    );
}

#[test]
fn match_final_reads_the_files_again_with_the_resolved_name() {
    let text = "Host alias\n  HostName real.example\nHost real.example\n  Port 2000\n\
                Match final host real.example\n  User finaluser\nMatch canonical\n  Compression yes\n";
    let c = load(text, "alias").unwrap();
    // `Host real.example` matches only in the final pass.
    assert_eq!(
        (c.port(), c.user(), c.compression()),
        (2000, "finaluser", true)
    );
    // `Match canonical` alone asks for no final pass, so never holds.
    let c = load("Match canonical\n  Port 5\n", "alias").unwrap();
    assert_eq!(c.port(), 22);
    // A HostName first set in the final pass does not change the host.
    let c = load("Match final\n  HostName late.example\n", "alias").unwrap();
    assert_eq!(c.hostname(), "alias");
    // `Match host` compares in lower case (match_hostname).
    assert_eq!(load("Match host DB\n  Port 6\n", "Db").unwrap().port(), 6);
    // Without Match final there is one pass.
    let c = load(
        "Host alias\n  HostName real.example\nHost real.example\n  Port 2000\n",
        "alias",
    )
    .unwrap();
    assert_eq!(c.port(), 22);
}

#[test]
fn match_errors() {
    for (text, want) in [
        ("Match\n", "One or more attributes required"),
        ("Match host\n", "Missing Match criteria for host"),
        ("Match bogus x\n", "Unsupported Match attribute bogus"),
        ("Match all host x\n", "cannot be combined"),
    ] {
        let e = load(text, "h").unwrap_err();
        assert!(e.message.contains(want), "{text:?}: {e}");
        assert_eq!(e.line, 1);
    }
}

#[test]
fn include_globs_relative_to_dot_ssh_nested_and_scoped() {
    let s = Scratch::new();
    s.write(".ssh/conf.d/b.conf", "Host db\n  Port 2002\n");
    s.write(
        ".ssh/conf.d/a.conf",
        "Host db\n  User from-a\nInclude nested/*\n",
    );
    s.write(".ssh/nested/n", "Host *\n  ConnectTimeout 4\n");
    s.write(".ssh/conf.d/.hidden", "Host *\n  User hidden\n");
    s.write(".ssh/other", "Port 7\nMatch all\n  User from-other\n");
    let text = "Include conf.d/*.conf ~/.ssh/missing*\nHost nomatch\n  Include other\n  Port 9\nHost *\n  Port 8\n";
    let c = SshConfig::load("db", &s.options(text)).unwrap();
    // a.conf before b.conf (sorted); .hidden not matched by `*`.
    assert_eq!((c.user(), c.port()), ("from-a", 2002));
    assert_eq!(c.connect_timeout(), Some(std::time::Duration::from_secs(4)));
    // `other` is read from a block that does not apply: nothing in it
    // applies, not even after its own `Match all`, and the including
    // block's state comes back after it.
    let c = SshConfig::load("x", &s.options(text)).unwrap();
    assert_eq!((c.user(), c.port()), ("user", 8));
}

#[test]
fn include_depth_is_bounded() {
    let s = Scratch::new();
    s.write(".ssh/loop", "Include loop\n");
    let e = SshConfig::load("h", &s.options("Include loop\n")).unwrap_err();
    assert!(
        e.message
            .contains("Too many recursive configuration includes"),
        "{e}"
    );
    // Sixteen levels are fine.
    for i in 0..16 {
        s.write(&format!(".ssh/l{i}"), &format!("Include l{}\n", i + 1));
    }
    s.write(".ssh/l16", "Port 16\n");
    let c = SshConfig::load("h", &s.options("Include l1\n")).unwrap();
    assert_eq!(c.port(), 16);
}

#[test]
fn tokens_environment_and_tilde_in_paths() {
    let s = Scratch::new();
    let mut o = s.options("Host db\n  HostName %h.example\n  User alice\n  Port 2022\n  IdentityFile ~/k_%h_%r_%p\n  IdentityFile ${KEYDIR}/id\n  UserKnownHostsFile %d/kh_%n /abs/%C\n  RemoteCommand echo %n@%h\n");
    o.env = Arc::new(|n| (n == "KEYDIR").then(|| "/keys".to_string()));
    let c = SshConfig::load("db", &o).unwrap();
    let home = s.0.display().to_string();
    assert_eq!(c.hostname(), "db.example");
    assert_eq!(
        c.identity_files().unwrap(),
        [
            PathBuf::from(format!("{home}/k_db.example_alice_2022")),
            PathBuf::from("/keys/id")
        ]
    );
    let kh = c.user_known_hosts_files().unwrap();
    assert_eq!(kh[0], PathBuf::from(format!("{home}/kh_db")));
    assert_eq!(kh[1].display().to_string().len(), "/abs/".len() + 40);
    assert_eq!(
        c.remote_command().unwrap().as_deref(),
        Some("echo db@db.example")
    );
    // HostName takes %h and %% only; ProxyCommand %h %k %n %p %r.
    assert_eq!(load("HostName a%%b_%h\n", "h").unwrap().hostname(), "a%b_h");
    assert_eq!(load("HostName x%p\n", "h").unwrap_err().line, 1);
    let c = load("ProxyCommand nc %h %p %r %n %k %%\n", "h").unwrap();
    assert_eq!(
        c.proxy_command().unwrap().as_deref(),
        Some("nc h 22 user h h %")
    );
    assert!(load("ProxyCommand nc %d\n", "h")
        .unwrap()
        .proxy_command()
        .is_err());
    // An unknown token is an error naming the line that set it.
    let c = load("\nIdentityFile ~/%Z\n", "h").unwrap();
    let e = c.identity_files().unwrap_err();
    assert_eq!(e.line, 2);
}

#[test]
fn algorithm_modifiers_against_conch_defaults() {
    let defaults = conch_algorithms(Slot::Cipher).defaults;
    let c = load(
        "Ciphers -aes*-ctr\nMACs +hmac-sha1\nKexAlgorithms ^curve25519-sha256\n",
        "h",
    )
    .unwrap();
    let want: Vec<String> = defaults
        .iter()
        .filter(|n| !n.ends_with("-ctr"))
        .cloned()
        .collect();
    assert_eq!(c.algorithms(Slot::Cipher), want.as_slice());
    assert_eq!(
        c.algorithms(Slot::Mac).last().map(String::as_str),
        Some("hmac-sha1")
    );
    assert_eq!(c.algorithms(Slot::Kex)[0], "curve25519-sha256");
    assert!(load("Ciphers aes128-ctr,nonesuch\n", "h").is_err());
    assert!(load("Ciphers -*\n", "h")
        .unwrap_err()
        .message
        .contains("no algorithm left"));
}

#[test]
fn unknown_keywords_and_bad_values_name_file_and_line() {
    let e = load("Host *\n  Port 22\n  Bogus yes\n", "h").unwrap_err();
    assert_eq!(
        (e.line, e.message.as_str()),
        (3, "Bad configuration option: bogus")
    );
    assert!(e.file.ends_with("config"));
    assert!(e
        .to_string()
        .contains("config line 3: Bad configuration option"));
    // IgnoreUnknown (patterns) lets them through.
    assert!(load("IgnoreUnknown Bog*,other\nBogus yes\nOther 1\n", "h").is_ok());
    // Bad values are errors even in blocks that do not apply.
    let e = load("Host nothing\n  Port 99999\n", "h").unwrap_err();
    assert_eq!(e.line, 2);
    for bad in [
        "BatchMode maybe",
        "ServerAliveInterval 5q",
        "Port 22 23",
        "SetEnv NOEQ",
        "LocalForward 80",
        "User \"open",
    ] {
        assert!(load(&format!("{bad}\n"), "h").is_err(), "{bad}");
    }
}

#[test]
fn options_ssh_knows_but_conch_does_not_use_are_kept() {
    let c = load("ControlMaster auto\nForwardX11 yes\nProtocol 2\n", "h").unwrap();
    assert_eq!(c.get("controlmaster"), Some(&["auto".to_string()][..]));
    assert_eq!(c.get("ForwardX11"), Some(&["yes".to_string()][..]));
    assert_eq!(c.get("protocol"), None);
    // Their values are checked where ssh checks them; old keywords ssh
    // accepts with a warning are accepted.
    assert!(load("ForwardX11 maybe\n", "h").is_err());
    assert!(load("CanonicalizeMaxDots x\n", "h").is_err());
    assert!(load(
        "KerberosAuthentication yes\nIdentityFile2 x\nKeepAliveX 1\n",
        "h"
    )
    .is_err());
    assert!(load("KerberosAuthentication yes\nIdentityFile2 x\n", "h").is_ok());
    assert_eq!(
        load("SmartcardDevice /lib/p.so\n", "h")
            .unwrap()
            .get("PKCS11Provider")
            .map(|v| v.len()),
        Some(1)
    );
}

#[test]
fn command_line_comes_first_and_files_are_checked() {
    let s = Scratch::new();
    let o = s.options("Port 1\nUser filed\n").with_option("Port=2");
    let c = SshConfig::load("h", &o).unwrap();
    assert_eq!((c.port(), c.user()), (2, "filed"));
    assert!(SshConfig::load("h", &s.options("").with_option("Include x")).is_err());
    let missing = LoadOptions::isolated(&s.0).with_file(s.0.join("absent"));
    assert!(SshConfig::load("h", &missing).is_err());
    // Default files: ~/.ssh/config, then the system file.
    s.write(".ssh/config", "Host *\n  User fromuser\n");
    s.write(
        "etc-ssh/ssh_config",
        "Host *\n  User fromsystem\n  Port 2\n",
    );
    let mut d = LoadOptions::isolated(&s.0);
    d.files = ConfigFiles::Default;
    let c = SshConfig::load("h", &d).unwrap();
    assert_eq!((c.user(), c.port()), ("fromuser", 2));
}

#[test]
fn proxy_jump_and_proxy_command_exclude_each_other() {
    let c = load("ProxyJump j1\nProxyCommand nc %h %p\n", "h").unwrap();
    assert_eq!(
        (c.proxy_jump(), c.proxy_command().unwrap()),
        (Some("j1"), None)
    );
    // `ProxyCommand none` is no command, and still keeps ProxyJump out.
    let c = load("ProxyCommand none\nProxyJump j1\n", "h").unwrap();
    assert_eq!((c.proxy_jump(), c.proxy_command().unwrap()), (None, None));
    assert!(!c.to_ssh_g().unwrap().contains("proxy"));
    let c = load("ProxyCommand nc %h %p\nProxyJump j1\n", "h").unwrap();
    assert_eq!(
        (c.proxy_jump(), c.proxy_command().unwrap().as_deref()),
        (None, Some("nc h 22"))
    );
}

#[test]
fn a_jump_host_that_is_the_destination_is_a_loop() {
    let e = load("ProxyJump a,bob@x:2022\nUser bob\nPort 2022\n", "x").unwrap_err();
    assert!(e.message.contains("jumphost loop via x"), "{e}");
    assert!(load("ProxyJump x\n", "x").is_err());
    // Another port, user or host is no loop.
    assert!(load("ProxyJump x:2222\n", "x").is_ok());
    assert!(load("ProxyJump other@x\n", "x").is_ok());
    assert!(load("ProxyJump [::1]:22\n", "y").is_ok());
}

#[test]
fn builder_without_files() {
    let s = Scratch::new();
    let c = SshConfig::builder("db")
        .option("HostName", "db.example.org")
        .option("Port", "2222")
        .option("Port", "1")
        .option("IdentityFile", "~/.ssh/id_db")
        .build(&LoadOptions::isolated(&s.0))
        .unwrap();
    assert_eq!((c.hostname(), c.port()), ("db.example.org", 2222));
    assert_eq!(c.identity_files().unwrap(), [s.0.join(".ssh/id_db")]);
    assert!(SshConfig::builder("db")
        .option("Port", "x")
        .build(&LoadOptions::isolated(&s.0))
        .is_err());
}

#[test]
fn ssh_g_output() {
    let c = load("Host db\n  HostName DB.Example\n  Port 2200\n  User alice\n  StrictHostKeyChecking yes\n  LocalForward 8080 localhost:80\n", "db").unwrap();
    let out = c.to_ssh_g().unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..4],
        ["host db", "user alice", "hostname db.example", "port 2200"]
    );
    assert!(lines.contains(&"stricthostkeychecking true"));
    assert!(lines.contains(&"localforward 8080 [localhost]:80"));
    assert!(lines.contains(&"connecttimeout none"));
    assert!(out.lines().all(|l| l
        .split(' ')
        .next()
        .is_some_and(|k| k == k.to_ascii_lowercase())));
}

#[test]
fn malformed_input_never_panics_and_is_bounded() {
    // A deterministic stream of fragments in every order.
    let frags = [
        "Host",
        "Match",
        "Include",
        "\"",
        "'",
        "=",
        "%",
        "${",
        "}",
        "!",
        "*",
        "?",
        "#",
        "\\",
        " ",
        "\t",
        "\n",
        "exec",
        "all",
        "final",
        "Port",
        "IdentityFile",
        "~",
        "/",
        "LocalForward",
        "[",
        "]",
        ":",
        "Ciphers",
        "+",
        "-",
        "^",
        "\u{e9}",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let s = Scratch::new();
    for _ in 0..300 {
        let mut text = String::new();
        for _ in 0..40 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(frags[(x % frags.len() as u64) as usize]);
        }
        if let Ok(c) = SshConfig::load("h", &s.options(&text)) {
            let _ = c.to_ssh_g();
            let _ = c.identity_files();
        }
    }
    let long = format!("User {}\n", "a".repeat(MAX_LINE_LEN + 1));
    assert!(load(&long, "h")
        .unwrap_err()
        .message
        .contains("longer than"));
    let f = s.write("big", &"# x\n".repeat((MAX_FILE_SIZE / 4 + 1) as usize));
    assert!(SshConfig::load("h", &LoadOptions::isolated(&s.0).with_file(f)).is_err());
    assert!(load("\u{0}\u{1}\u{2}", "h").is_err());
    // Bytes that are not UTF-8 (a Latin-1 comment) are read as ssh reads them.
    let f = s.write("latin1", "");
    std::fs::write(&f, b"# caf\xe9\nPort 2\n").unwrap();
    let c = SshConfig::load("h", &LoadOptions::isolated(&s.0).with_file(f)).unwrap();
    assert_eq!(c.port(), 2);
}

/// As ssh: `~/.ssh/config` and included files that others may write are
/// refused ("Bad owner or permissions"); a `-F` file is not checked.
#[cfg(unix)]
#[test]
fn bad_permissions_on_the_user_file_and_includes_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let user = s.write(".ssh/config", "Host db\n  Port 2\n");
    let mut options = LoadOptions::isolated(&s.0);
    options.files = ConfigFiles::Default;
    assert_eq!(SshConfig::load("db", &options).unwrap().port(), 2);
    std::fs::set_permissions(&user, std::fs::Permissions::from_mode(0o666)).unwrap();
    let e = SshConfig::load("db", &options).unwrap_err();
    assert!(e.message.starts_with("Bad owner or permissions on "), "{e}");
    // The same file as -F is read.
    assert_eq!(
        SshConfig::load("db", &LoadOptions::isolated(&s.0).with_file(&user))
            .unwrap()
            .port(),
        2
    );
    // An Include, even from a -F file, is checked.
    let inc = s.write(".ssh/inc.conf", "Port 3\n");
    std::fs::set_permissions(&inc, std::fs::Permissions::from_mode(0o620)).unwrap();
    let e = SshConfig::load("db", &s.options("Include inc.conf\n")).unwrap_err();
    assert!(e.message.contains("Bad owner or permissions"), "{e}");
}

#[test]
fn gateway_ports_is_a_flag_off_by_default() {
    assert!(!load("Host x\n  User a\n", "x").unwrap().gateway_ports());
    assert!(load("GatewayPorts yes\n", "x").unwrap().gateway_ports());
    assert!(!load("GatewayPorts no\n", "x").unwrap().gateway_ports());
    assert!(load("GatewayPorts maybe\n", "x").is_err());
}
