//! `conch -G` against OpenSSH's `ssh -G` (the oracle) on a corpus of
//! ssh_config files: for every option conch prints, ssh must print the
//! same lines. HOME points at a scratch directory and every case uses
//! `-F`, so neither program reads the real ~/.ssh or /etc/ssh.
//!
//! Two kinds of line differ by design and are compared another way:
//! - algorithm lists: conch and OpenSSH implement different algorithms, so
//!   their defaults differ. The case's list (with its `+`, `-`, `^`) is
//!   resolved by conch's resolver against OpenSSH's own default and
//!   supported lists (`ssh -G` with an empty file, `ssh -Q`), which must
//!   give what ssh prints; and conch must print the same list resolved
//!   against conch's lists.
//! - `identityfile` when no IdentityFile is configured: each prints its
//!   own default identities (OpenSSH 9.2 adds `id_xmss` and `id_dsa`,
//!   which conch does not read).
//!
//! Not in the corpus: `BatchMode yes` without `ServerAliveInterval`, for
//! which Debian's ssh (a Debian patch, not OpenSSH) prints
//! `serveraliveinterval 300`; conch keeps OpenSSH's 0.

use conch_interop::{run_bounded, workspace_bin, Input, TestDir};
use conch_openssh::ssh_config::{conch_algorithms, resolve_algorithms, AlgorithmSet, Slot};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

struct Case {
    name: &'static str,
    config: &'static str,
    /// Each run: extra arguments, then the host.
    runs: &'static [&'static [&'static str]],
}

const CASES: &[Case] = &[
    Case {
        name: "host_order_first_wins",
        config: "Host db\n  Port 2222\n  User alice\nHost *\n  Port 1\n  User bob\n  HostName fallback.example\n",
        runs: &[&["db"], &["web"], &["DB"]],
    },
    Case {
        name: "patterns_negation_several_per_line",
        config: "Host *.example.org !secret.example.org web?\n  User matched\n  Port 2001\nHost secret*\n  Port 2002\n",
        runs: &[&["a.example.org"], &["secret.example.org"], &["web1"], &["web12"]],
    },
    Case {
        name: "keyword_syntax",
        config: "# a comment\n\n  HOSTNAME=\"quoted.example\"\nport = 2200\n\tUser\tsyntax # trailing comment\n",
        runs: &[&["h"]],
    },
    Case {
        name: "match_criteria",
        config: "Match originalhost db\n  HostName db.internal\n\
                 Match host db.internal user admin\n  Port 2201\n\
                 Match host db.internal exec \"test %n = db -a %h = db.internal\"\n  ConnectTimeout 9\n\
                 Match !exec \"false\" localuser *\n  ServerAliveInterval 7\n\
                 Match host db.internal\n  Port 2202\n\
                 Match final host db.internal\n  User finaluser\n\
                 Match canonical\n  Compression yes\n\
                 Match all\n  ConnectionAttempts 4\n",
        runs: &[&["db"], &["-l", "admin", "db"], &["other"]],
    },
    Case {
        name: "readconf_details",
        config: "\"User\" quoted-keyword\nMatch HOST DB\n  Port 2300\nMatch canonical\n  Port 2301\nMatch final\n  HostName late.example\n  ConnectTimeout 8\n",
        runs: &[&["DB"], &["db"], &["other"]],
    },
    Case {
        name: "final_pass_rematches_host",
        config: "Host alias\n  HostName real.example\nHost real.example\n  Port 2000\nMatch final\n  HashKnownHosts yes\n",
        runs: &[&["alias"], &["real.example"]],
    },
    Case {
        name: "include_glob_relative_nested_scoped",
        config: "Include conf.d/*.conf\nHost nomatch\n  Include other\n  Port 9\nHost *\n  Port 8\n",
        runs: &[&["db"], &["x"]],
    },
    Case {
        name: "tokens_and_environment",
        config: "Host db\n  HostName %h.example.org\n  User alice\n  Port 2022\n\
                 UserKnownHostsFile ~/kh_%h_%p_%r_%n %d/x_%u_%L_%i_%k_%% /abs/%C ${CONCH_SSHCFG_VAR}/kh\n\
                 IdentityAgent ~/agent_%h\n  RemoteCommand echo %h %n %% %r\n  IdentityFile ~/.ssh/id_%h\n  CertificateFile %d/cert_%r\n",
        runs: &[&["db"], &["-p", "2023", "-l", "carol", "db"]],
    },
    Case {
        name: "accumulating_options",
        config: "Host *\n  IdentityFile ~/.ssh/a\n  CertificateFile ~/c1\n  SendEnv LANG LC_*\n  LocalForward 8080 localhost:80\n  SetEnv A=1 A=2\n\
                 Host db\n  IdentityFile ~/.ssh/b\n  IdentityFile ~/.ssh/a\n  SendEnv -LC_* TERM\n  LocalForward 127.0.0.1:9090 /sock\n  RemoteForward 9000 localhost:22\n  RemoteForward 1081\n  SetEnv B=3\n  DynamicForward *:1080\n  CertificateFile ~/c2\n",
        runs: &[&["db"], &["web"]],
    },
    Case {
        name: "values",
        config: "Host a\n  StrictHostKeyChecking yes\n  RequestTTY no\n  LogLevel debug1\n  RekeyLimit 1G 1h\n  ForwardAgent /tmp\n  AddressFamily inet\n  ServerAliveInterval 1h30m\n  ConnectTimeout 1m\n  Compression yes\n  PubkeyAuthentication no\n  PasswordAuthentication no\n  KbdInteractiveAuthentication no\n  IdentitiesOnly yes\n  HashKnownHosts yes\n  CheckHostIP yes\n  ExitOnForwardFailure yes\n  NumberOfPasswordPrompts 1\n  ServerAliveCountMax 0\n  ConnectionAttempts 2\n  PreferredAuthentications publickey,password\n  GlobalKnownHostsFile /g1 /g2\n\
                 Host b\n  StrictHostKeyChecking accept-new\n  RequestTTY force\n  LogLevel VERBOSE\n  RekeyLimit 100K\n  ForwardAgent yes\n  TCPKeepAlive no\n  PubkeyAuthentication unbound\n\
                 Host c\n  StrictHostKeyChecking off\n  RequestTTY yes\n  RekeyLimit default none\n  ChallengeResponseAuthentication no\n",
        runs: &[&["a"], &["b"], &["c"], &["d"]],
    },
    Case {
        name: "algorithm_modifiers",
        config: "Host minus\n  Ciphers -aes*-ctr\n  MACs -*sha1*\n  PubkeyAcceptedAlgorithms -rsa*\n\
                 Host plus\n  MACs +hmac-sha1\n  KexAlgorithms +diffie-hellman-group14-sha1\n\
                 Host caret\n  Ciphers ^aes256-ctr,aes128-ctr\n  KexAlgorithms ^curve25519-sha256\n\
                 Host plain\n  Ciphers aes128-ctr,aes256-gcm@openssh.com\n  HostKeyAlgorithms ssh-ed25519,rsa-sha2-256\n",
        runs: &[&["minus"], &["plus"], &["caret"], &["plain"]],
    },
    Case {
        name: "ignore_unknown_and_known_unused",
        config: "IgnoreUnknown Foo*,UseKeychain\nUseKeychain yes\nFooBar 1\nControlMaster auto\nForwardX11 yes\nPort 2500\n",
        runs: &[&["h"]],
    },
    Case {
        name: "proxy_jump_and_command_first_wins",
        config: "Host j\n  ProxyJump alice@jump:2200,bastion\n  ProxyCommand nc %h %p\nHost c\n  ProxyCommand nc -X connect %h %p\n  ProxyJump jump\n",
        runs: &[&["j"], &["c"]],
    },
    Case {
        name: "command_line_first",
        config: "Port 1\nUser filed\nConnectTimeout 3\n",
        runs: &[&["-o", "Port=2", "-p", "3", "h"], &["-o", "User carol", "-o", "ConnectTimeout=5", "h"], &["-l", "dave", "eve@h"]],
    },
];

/// Files that must fail in both, with the line ssh names.
const ERRORS: &[(&str, &str)] = &[
    ("unknown_keyword", "Host *\n  Port 22\n  Bogus yes\n"),
    ("bad_value_in_other_block", "Host nothing\n  Port 99999\n"),
    ("bad_flag", "BatchMode maybe\n"),
    ("bad_time", "ServerAliveInterval 5q\n"),
    ("bad_match_attribute", "Match nosuch x\n  Port 2\n"),
    ("match_missing_criteria", "Match host\n"),
    ("match_all_combined", "Match all host x\n"),
    ("unterminated_quote", "User \"open\n"),
    ("bad_cipher", "Ciphers aes128-ctr,nonesuch\n"),
    ("setenv_without_value", "SetEnv NOEQ\n"),
    ("sendenv_with_value", "SendEnv A=B\n"),
    ("extra_arguments", "\nPort 22 23\n"),
    ("forward_without_target", "LocalForward 8080\n"),
    ("recursive_include", "Include recursive_include\n"),
    ("hostname_bad_token", "Host *\n  HostName x%p\n"),
    ("unused_flag_bad_value", "Host *\n  ForwardX11 maybe\n"),
];

fn run(program: &Path, home: &Path, args: &[&str]) -> (bool, String, String) {
    let mut c = Command::new(program);
    c.args(args)
        .env("HOME", home)
        .env("CONCH_SSHCFG_VAR", "/from-env");
    let f = run_bounded(&mut c, Input::Null, Duration::from_secs(30));
    (f.status.success(), f.stdout_text(), f.stderr_text())
}

fn lines_of<'a>(out: &'a str, key: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.split(' ').next() == Some(key))
        .collect()
}

fn algorithm_slot(key: &str) -> Option<(Slot, &'static str)> {
    Some(match key {
        "ciphers" => (Slot::Cipher, "cipher"),
        "macs" => (Slot::Mac, "mac"),
        "kexalgorithms" => (Slot::Kex, "kex"),
        "hostkeyalgorithms" => (Slot::HostKey, "HostKeyAlgorithms"),
        "pubkeyacceptedalgorithms" => (Slot::PubkeyAccepted, "PubkeyAcceptedAlgorithms"),
        _ => return None,
    })
}

/// The algorithm list the case's file sets for `key` on `host`, as ssh
/// reads it (the first matching Host block's value), from conch's own
/// view of the file: `conch -G` of the same file is not used here, so
/// the spec is found by reading the corpus text.
fn spec_for(config: &str, host: &str, key: &str) -> Option<String> {
    let mut active = true;
    for line in config.lines() {
        let mut words = line.split_whitespace();
        let (Some(k), rest) = (words.next(), words.collect::<Vec<_>>()) else {
            continue;
        };
        if k.eq_ignore_ascii_case("host") {
            active = rest.iter().any(|p| *p == host || *p == "*");
        } else if active && k.eq_ignore_ascii_case(key) {
            return rest.first().map(|s| s.to_string());
        }
    }
    None
}

#[test]
fn conch_g_matches_ssh_g() {
    let conch = workspace_bin("conch-cli", "conch");
    let ssh = PathBuf::from("ssh");
    let dir = TestDir::new("ssh-config-g");
    let home = dir.path().to_path_buf();
    std::fs::create_dir_all(home.join(".ssh/conf.d")).unwrap();
    std::fs::write(home.join(".ssh/conf.d/b.conf"), "Host db\n  Port 2002\n").unwrap();
    std::fs::write(
        home.join(".ssh/conf.d/a.conf"),
        "Host db\n  User from-a\nInclude nested/*\n",
    )
    .unwrap();
    std::fs::create_dir_all(home.join(".ssh/nested")).unwrap();
    std::fs::write(home.join(".ssh/nested/n"), "Host *\n  ConnectTimeout 4\n").unwrap();
    std::fs::write(
        home.join(".ssh/conf.d/.hidden.conf"),
        "Host *\n  User hidden\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".ssh/other"),
        "Port 7\nMatch all\n  User from-other\n",
    )
    .unwrap();

    // OpenSSH's own lists: its defaults (an empty file) and everything it
    // implements (`ssh -Q`).
    let empty = dir.write("empty", "");
    let (ok, ssh_defaults, err) = run(&ssh, &home, &["-G", "-F", empty.to_str().unwrap(), "h"]);
    assert!(ok, "{err}");
    let ssh_set = |key: &str, query: &str| {
        let defaults: Vec<String> = lines_of(&ssh_defaults, key)[0]
            .split(' ')
            .nth(1)
            .unwrap()
            .split(',')
            .map(String::from)
            .collect();
        let (ok, all, err) = run(&ssh, &home, &["-Q", query]);
        assert!(ok, "{err}");
        AlgorithmSet {
            defaults,
            all: all.lines().map(String::from).collect(),
        }
    };

    let mut compared = 0;
    for case in CASES {
        let file = dir.write(case.name, case.config);
        for run_args in case.runs {
            let mut args = vec!["-G", "-F", file.to_str().unwrap()];
            args.extend_from_slice(run_args);
            let (s_ok, s_out, s_err) = run(&ssh, &home, &args);
            let (c_ok, c_out, c_err) = run(&conch, &home, &args);
            let what = format!("case {} {:?}", case.name, run_args);
            assert!(s_ok, "{what}: ssh failed: {s_err}");
            assert!(c_ok, "{what}: conch failed: {c_err}");
            let host = run_args.last().unwrap().rsplit('@').next().unwrap();
            let mut keys: Vec<&str> = c_out.lines().filter_map(|l| l.split(' ').next()).collect();
            keys.dedup();
            for key in keys {
                let (s, c) = (lines_of(&s_out, key), lines_of(&c_out, key));
                if let Some((slot, query)) = algorithm_slot(key) {
                    let spec = spec_for(case.config, host, key).unwrap_or_default();
                    let expect_ssh = resolve_algorithms(&spec, &ssh_set(key, query))
                        .unwrap()
                        .join(",");
                    assert_eq!(
                        s,
                        [format!("{key} {expect_ssh}")],
                        "{what}: {key} {spec:?} resolved against OpenSSH's lists"
                    );
                    let expect_conch = resolve_algorithms(&spec, &conch_algorithms(slot))
                        .unwrap()
                        .join(",");
                    assert_eq!(c, [format!("{key} {expect_conch}")], "{what}: {key}");
                    continue;
                }
                if key == "identityfile" && s == lines_of(&ssh_defaults, key) {
                    continue;
                }
                assert_eq!(c, s, "{what}: option {key}\nconch:\n{c_out}\nssh:\n{s_out}");
                compared += 1;
            }
        }
    }
    assert!(compared > 400, "only {compared} options compared");
}

#[test]
fn conch_g_rejects_what_ssh_rejects_naming_the_line() {
    let conch = workspace_bin("conch-cli", "conch");
    let ssh = PathBuf::from("ssh");
    let dir = TestDir::new("ssh-config-errors");
    let home = dir.path().to_path_buf();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    for (name, text) in ERRORS {
        let file = dir.write(name, text);
        // `Include NAME` is relative to ~/.ssh: put the self-including
        // file there too.
        std::fs::write(home.join(".ssh").join(name), text).unwrap();
        let args = ["-G", "-F", file.to_str().unwrap(), "h"];
        let (s_ok, _, s_err) = run(&ssh, &home, &args);
        let (c_ok, c_out, c_err) = run(&conch, &home, &args);
        assert!(!s_ok, "{name}: ssh accepted it");
        assert!(!c_ok, "{name}: conch accepted it:\n{c_out}");
        // Where ssh names a line of the file, conch names the same one.
        let marker = format!("{} line ", file.display());
        if let Some(rest) = s_err.split(&marker).nth(1) {
            let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
            assert!(
                c_err.contains(&format!("{marker}{line}:")),
                "{name}: ssh said {s_err:?}, conch said {c_err:?}"
            );
        } else {
            assert!(
                c_err.contains(&file.display().to_string()) || c_err.contains(name),
                "{name}: {c_err}"
            );
        }
    }
}

/// `conch ALIAS` logs in to OpenSSH's sshd with the HostName, Port, User
/// and IdentityFile the alias sets in the `-F` file (no `-p`, `-l`, `-i`).
#[test]
fn conch_logs_in_through_an_alias() {
    let conch = workspace_bin("conch-cli", "conch");
    let sshd = conch_interop::Sshd::start_default();
    let dir = TestDir::new("ssh-config-login");
    let user = sshd.login_user();
    let key = sshd.user_key().private_path.display().to_string();
    let config = dir.write(
        "config",
        format!(
            "Host viaalias\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {key}\n\
             Host nokey\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n\
             Host nouser\n  HostName 127.0.0.1\n  Port {port}\n  User no-such-user-conch\n  IdentityFile {key}\n\
             Host *\n  Port 1\n  User nobody\n",
            port = sshd.port()
        ),
    );
    let known_hosts = sshd.known_hosts_file();
    let conch_run = |alias: &str| {
        let mut c = Command::new(&conch);
        c.arg("-F")
            .arg(&config)
            .args(["-o", "BatchMode=yes", "--no-agent", "-o"])
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args([alias, "whoami"])
            .env_remove("SSH_AUTH_SOCK")
            .env("HOME", dir.path());
        run_bounded(&mut c, Input::Null, Duration::from_secs(60))
    };
    let out = conch_run("viaalias");
    out.assert_success();
    assert_eq!(out.stdout_text().trim(), user);
    // The key came from the file: without it (no agent, an empty HOME)
    // there is nothing to log in with; and the user from the file is the
    // one sshd sees.
    assert_eq!(conch_run("nokey").status.code(), Some(255));
    assert_eq!(conch_run("nouser").status.code(), Some(255));
}

/// Line templates for [`random_files_agree`]: `{p}` a Host/Match pattern,
/// `{u}` a user, `{h}` a host, `{n}` a port, `{t}` a duration, `{y}` a
/// yes/no word.
const TEMPLATES: &[&str] = &[
    "Host {p}",
    "Host {p} {p}",
    "Host !{p} *",
    "Match host {p}",
    "Match originalhost {p}",
    "Match user {u}",
    "Match !user {u}",
    "Match localuser *",
    "Match all",
    "Match final",
    "Match canonical host {p}",
    "Match exec \"test %h = {h}\"",
    "Match HOST {p}",
    "  HostName {h}.example",
    "  HostName %h.alt",
    "  Port {n}",
    "  User {u}",
    "  IdentityFile ~/.ssh/id_{u}",
    "  IdentityFile %d/k_%h",
    "  CertificateFile ~/c_{u}",
    "  LocalForward {n} localhost:{n}",
    "  RemoteForward {n} h:{n}",
    "  DynamicForward {n}",
    "  SendEnv LANG LC_*",
    "  SendEnv -LC_*",
    "  SetEnv A={u} B={n}",
    "  ServerAliveInterval {t}",
    "  ConnectTimeout {t}",
    "  StrictHostKeyChecking ask",
    "  StrictHostKeyChecking accept-new",
    "  Compression {y}",
    "  RequestTTY {y}",
    "  LogLevel debug3",
    "  UserKnownHostsFile ~/kh_%h_%p /tmp/%r",
    "  ProxyJump {u}@{h}",
    "  ProxyCommand nc %h %p",
    "  RemoteCommand echo %n",
    "  IgnoreUnknown Foo*",
    "  FooBar 1",
    "  PreferredAuthentications publickey",
    "  ForwardAgent {y}",
    "  RekeyLimit 1G {t}",
    "  NumberOfPasswordPrompts 1",
    "  IdentitiesOnly={y}",
    "  \"User\" {u}",
    "  port {n}",
    "# comment {u}",
    "",
    "Include inc/*.conf",
    "  Include inc/a.conf",
    "Match user alice,bob",
    "Match host \"db,!x*\"",
    "Match originalhost !db",
    "Match !host web* user root",
    "Host=\"{p}\"",
    "  SendEnv -L*",
    "  RemoteForward {n}",
    "  LocalForward [::1]:{n} /tmp/s",
    "  HostKeyAlias alias{u}",
    "  UserKnownHostsFile %k_%n",
    "  ProxyJump none",
    "  ProxyCommand none",
    "  IdentityAgent ~/agent.%h",
    "  GlobalKnownHostsFile /g/%h",
    "  PubkeyAuthentication unbound",
    "  StrictHostKeyChecking=no",
    "  CheckHostIP {y}",
    "  AddressFamily inet6",
];

/// A deterministic stream of choices (xorshift64).
struct Choices(u64);

impl Choices {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        from[(self.0 % from.len() as u64) as usize]
    }
}

/// Files assembled at random from [`TEMPLATES`]: for every one, both
/// programs accept it or both reject it, and print the same options.
#[test]
fn random_files_agree() {
    let conch = workspace_bin("conch-cli", "conch");
    let ssh = PathBuf::from("ssh");
    let dir = TestDir::new("ssh-config-random");
    let home = dir.path().to_path_buf();
    let inc = home.join(".ssh/inc");
    std::fs::create_dir_all(&inc).unwrap();
    std::fs::write(
        inc.join("a.conf"),
        "Host db\n  Port 4444\nMatch all\n  User incuser\n",
    )
    .unwrap();
    std::fs::write(
        inc.join("b.conf"),
        "Host *\n  ConnectTimeout 3\n  Include inc/b2\n",
    )
    .unwrap();
    std::fs::write(inc.join("b2"), "SendEnv FROMB2\n").unwrap();
    let mut choices = Choices(0x2545_f491_4f6c_dd1d);
    let mut compared = 0;
    for round in 0..60 {
        let lines = 3 + choices.0 % 20;
        let mut text = String::new();
        for _ in 0..lines {
            let mut line = choices.pick(TEMPLATES).to_string();
            for (slot, values) in [
                (
                    "{p}",
                    &["db", "*", "web?", "*.example.org", "x*", "d?", "DB"][..],
                ),
                ("{u}", &["alice", "bob", "root"][..]),
                ("{h}", &["db", "web1", "x"][..]),
                ("{n}", &["22", "2222", "80", "1080"][..]),
                ("{t}", &["5", "1m", "2h30m", "0"][..]),
                ("{y}", &["yes", "no"][..]),
            ] {
                while line.contains(slot) {
                    line = line.replacen(slot, choices.pick(values), 1);
                }
            }
            text.push_str(&line);
            text.push('\n');
        }
        let file = dir.write(&format!("random{round}"), &text);
        for host in ["db", "web1", "a.example.org", "DB", "x"] {
            let args = ["-G", "-F", file.to_str().unwrap(), host];
            let (s_ok, s_out, s_err) = run(&ssh, &home, &args);
            let (c_ok, c_out, c_err) = run(&conch, &home, &args);
            let what = format!("file:\n{text}\nhost {host}");
            assert_eq!(c_ok, s_ok, "{what}\nssh: {s_err}\nconch: {c_err}");
            if !s_ok {
                continue;
            }
            let mut keys: Vec<&str> = c_out.lines().filter_map(|l| l.split(' ').next()).collect();
            keys.dedup();
            for key in keys {
                // Compared by conch_g_matches_ssh_g; and Debian's ssh
                // prints 300 with BatchMode (see the top of this file).
                let skip = algorithm_slot(key).is_some()
                    || key == "identityfile"
                    || key == "serveraliveinterval";
                if !skip {
                    assert_eq!(
                        lines_of(&c_out, key),
                        lines_of(&s_out, key),
                        "{what}: option {key}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 1000, "only {compared} options compared");
}
