//! `conch`'s command line: the usage text, and parsing the arguments into
//! what to do ([`Invocation`]), with `-o` options as ssh names them.

use std::ffi::OsString;
use std::path::PathBuf;

use conch_openssh::ssh_config::ConfigFiles;

use super::escape::EscapeChar;
use super::forward_args;
use super::tty::RequestTty;

/// Help text.
pub const USAGE: &str = "\
usage: conch [-p PORT] [-l USER] [-i IDENTITY]... [-o OPTION=VALUE]... [-F FILE|none]
             [-v] [-q] [-n] [-N] [-A|-a] [-t|-tt|-T] [-e CHAR] [--password-env VAR] [--no-agent]
             [-L [BIND:]PORT:HOST:HOSTPORT]... [-R [BIND:]PORT:HOST:HOSTPORT]...
             [-D [BIND:]PORT]... [-W HOST:PORT] [-J [USER@]HOST[:PORT][,...]]
             [--record FILE] [USER@]HOST [COMMAND...]
       conch -G [-F FILE] [-o OPTION=VALUE]... [-p PORT] [-l USER] HOST
       conch --demo
       conch --replay FILE
       conch sftp [-b BATCHFILE] [-P PORT] [-i IDENTITY] [-r] [USER@]HOST[:DIR]
       conch scp [-r] [-p] [-P PORT] [-i IDENTITY] SOURCE... TARGET
       (a host named sftp or scp: conch -- sftp, conch USER@sftp, conch -p 22 sftp)

  -p PORT            port to connect to (default 22)
  -l USER            user to log in as (default: the local user)
  -i FILE            identity (private key) file; may be repeated
  -o OPTION=VALUE    any ssh_config option, before the files (the first value wins):
                     HostName, Port, User, IdentityFile, UserKnownHostsFile,
                     StrictHostKeyChecking, BatchMode, ConnectTimeout, ProxyCommand,
                     ServerAliveInterval, Ciphers, ... (see README)
  -F FILE|none       ssh_config file to read instead of ~/.ssh/config and
                     /etc/ssh/ssh_config (conch -G HOST prints the resolution)
  -v                 say what happens (repeat for more)
  -q                 quiet: no warnings such as 'Permanently added'
  -n                 do not read stdin
  -N                 no command: only forward
  -A                 forward the agent at SSH_AUTH_SOCK to the server's session
                     (ForwardAgent yes); -a: do not
  -C                 compress the session (Compression yes: zlib@openssh.com,
                     then zlib, if the server allows)
  -L SPEC            local forward: [BIND:]PORT:HOST:HOSTPORT, [BIND:]PORT:SOCKET,
                     SOCKET:HOST:HOSTPORT or SOCKET:SOCKET (as ssh; repeatable)
  -R SPEC            remote forward, the same forms seen from the server; port 0
                     prints the port the server allocated
  -D [BIND:]PORT     dynamic forward: a SOCKS4/4a/5 proxy
  -W HOST:PORT       stdin and stdout to HOST:PORT as seen from the server
  -J HOPS            connect through these jump hosts (ProxyJump)
                     -o also takes LocalForward, RemoteForward, DynamicForward,
                     ExitOnForwardFailure=yes|no and ProxyJump
  -t                 ask for a pseudo-terminal even with a command (-tt: even
                     when stdin is not a terminal); the default is one for a
                     shell when stdin is a terminal
  -T                 no pseudo-terminal
  -e CHAR|^X|none    escape character (default ~; ~. disconnects, ~? helps)
  --password-env VAR take the password from environment variable VAR
  --no-agent         do not use the ssh-agent at SSH_AUTH_SOCK
  --record FILE      record a transcript of the session to FILE (it lets anyone
                     who has it decrypt the session: for tests and bug reports)
  --replay FILE      replay a recorded transcript and print its calls and events
  --demo             run the Twisted Conch client how-to's examples against an in-process server";

/// A parsed `conch` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientArgs {
    /// Host to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User to log in as.
    pub user: String,
    /// Identity files given (`-i`), read before the `IdentityFile`s.
    pub identities: Vec<PathBuf>,
    /// The `-o` options in order, as ssh_config lines, read before the
    /// files ([`crate::config_dump::apply_config`]).
    pub options: Vec<String>,
    /// `-v` count.
    pub verbose: u8,
    /// `-q`.
    pub quiet: bool,
    /// `-n`: stdin is not read.
    pub no_stdin: bool,
    /// `--password-env VAR`.
    pub password_env: Option<String>,
    /// `--no-agent` (`IdentityAgent none`).
    pub no_agent: bool,
    /// The remote command, words joined by spaces; empty for a shell.
    pub command: String,
    /// `--record FILE`: where to record the session's transcript.
    pub record: Option<PathBuf>,
    /// `-t`/`-tt`/`-T`/`-o RequestTTY`, if given (else the files' or auto).
    pub request_tty: Option<RequestTty>,
    /// `-e`/`-o EscapeChar`, if given (else the files' or `~`).
    pub escape_char: Option<EscapeChar>,
    /// `-F`: the ssh_config files read
    /// ([`crate::config_dump::apply_config`]).
    pub config: ConfigFiles,
    /// The port given on the command line (`-p`, `-o Port`), which wins
    /// over the files.
    pub given_port: Option<u16>,
    /// The user given on the command line (`-l`, `-o User`, `USER@`),
    /// which wins over the files.
    pub given_user: Option<String>,
    /// The forwarding options given (`-L`, `-R`, `-D`, `-J`, `-o
    /// LocalForward ...`) as ssh_config lines, resolved with the files by
    /// `forward_args::resolve`.
    pub forward_options: Vec<String>,
    /// `-W HOST:PORT`.
    pub stdio_forward: Option<(String, u16)>,
    /// `-N`: no command.
    pub no_command: bool,
    /// `-A`/`-a`/`-o ForwardAgent`, if given (else the files' or no).
    pub forward_agent: Option<bool>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Connect and run a command.
    Connect(Box<ClientArgs>),
    /// `--demo`.
    Demo,
    /// `--replay FILE`.
    Replay(PathBuf),
    /// `--help`.
    Help,
}

/// Parses `conch`'s arguments (without the program name). Options may also
/// follow the host, up to the first word of the command, as with `ssh`.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut destination: Option<String> = None;
    let mut port: Option<u16> = None;
    let mut user: Option<String> = None;
    let mut command: Vec<String> = Vec::new();
    let mut a = ClientArgs {
        host: String::new(),
        port: 22,
        user: String::new(),
        identities: Vec::new(),
        options: Vec::new(),
        verbose: 0,
        quiet: false,
        no_stdin: false,
        password_env: None,
        no_agent: false,
        command: String::new(),
        record: None,
        request_tty: None,
        escape_char: None,
        config: ConfigFiles::Default,
        given_port: None,
        given_user: None,
        forward_options: Vec::new(),
        stdio_forward: None,
        no_command: false,
        forward_agent: None,
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('p') => port = Some(parse_port(&text(&mut parser)?)?),
            Short('l') => user = Some(text(&mut parser)?),
            Short('i') => a.identities.push(expand_home(&text(&mut parser)?)),
            Short('o') => {
                let option = text(&mut parser)?;
                apply_option(&mut a, &mut port, &mut user, &option)?
            }
            Short('F') => {
                let file = text(&mut parser)?;
                a.config = if file == "none" {
                    ConfigFiles::None
                } else {
                    ConfigFiles::File(PathBuf::from(file))
                };
            }
            Short('v') => a.verbose = a.verbose.saturating_add(1),
            Short('q') => a.quiet = true,
            Short('n') => a.no_stdin = true,
            Short('N') => a.no_command = true,
            // ssh: -A forwards the agent, -a does not; the last one wins.
            Short('A') => a.forward_agent = Some(true),
            // ssh -C: Compression yes, as an option line (-o order).
            Short('C') => a.options.push("Compression yes".to_string()),
            Short('a') => a.forward_agent = Some(false),
            Short('L') => {
                let spec = text(&mut parser)?;
                a.forward_options
                    .push(forward_args::forward_line("LocalForward", &spec)?);
            }
            Short('R') => {
                let spec = text(&mut parser)?;
                a.forward_options
                    .push(forward_args::forward_line("RemoteForward", &spec)?);
            }
            Short('D') => {
                let spec = text(&mut parser)?;
                a.forward_options.push(format!("DynamicForward {spec}"));
            }
            Short('W') => a.stdio_forward = Some(forward_args::parse_stdio(&text(&mut parser)?)?),
            Short('J') => {
                let hops = text(&mut parser)?;
                conch_openssh::ssh_config::parse_proxy_jump(&hops)?;
                // An option line, where HostConfig finds it (-o order).
                a.options.push(format!("ProxyJump {hops}"));
            }
            // ssh: -t once asks, twice forces; -T never.
            Short('t') => {
                a.request_tty = Some(match a.request_tty {
                    Some(RequestTty::Yes) | Some(RequestTty::Force) => RequestTty::Force,
                    _ => RequestTty::Yes,
                })
            }
            Short('T') => a.request_tty = Some(RequestTty::No),
            Short('e') => a.escape_char = Some(EscapeChar::parse(&text(&mut parser)?)?),
            Long("password-env") => a.password_env = Some(text(&mut parser)?),
            Long("no-agent") => a.no_agent = true,
            Long("demo") => return Ok(Invocation::Demo),
            Long("record") => {
                a.record = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Long("replay") => {
                return Ok(Invocation::Replay(PathBuf::from(
                    parser.value().map_err(|e| e.to_string())?,
                )))
            }
            Long("help") => return Ok(Invocation::Help),
            Value(word) => {
                let word = word
                    .into_string()
                    .map_err(|w| format!("invalid argument {w:?}"))?;
                if destination.is_none() {
                    destination = Some(word);
                } else {
                    // The command starts: everything from here is its words.
                    command.push(word);
                    for rest in parser.raw_args().map_err(|e| e.to_string())? {
                        command.push(
                            rest.into_string()
                                .map_err(|w| format!("invalid argument {w:?}"))?,
                        );
                    }
                }
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    let destination = destination.ok_or_else(|| USAGE.to_string())?;
    let (user_at, host) = match destination.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h.to_string()),
        None => (None, destination),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map(str::to_string)
        .unwrap_or(host);
    if host.is_empty() {
        return Err("no host name given".into());
    }
    a.host = host;
    // As OpenSSH: -l (or -o User) wins over USER@.
    a.given_user = user.or(user_at);
    a.given_port = port;
    a.user = a
        .given_user
        .clone()
        .unwrap_or_else(crate::how_to::current_user);
    a.port = port.unwrap_or(22);
    a.command = command.join(" ");
    Ok(Invocation::Connect(Box::new(a)))
}

/// A `ForwardAgent` value: yes or no (a socket path or environment
/// variable, which ssh also takes, is not supported: the agent is
/// `SSH_AUTH_SOCK`).
pub(crate) fn forward_agent(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!(
            "ForwardAgent {value:?}: only yes or no is supported (the agent is SSH_AUTH_SOCK)"
        )),
    }
}

/// Takes an `-o` option: kept as an ssh_config line, checked and applied
/// with the files ([`crate::config_dump::apply_config`]); `Port` and
/// `User` are also noted as given on the command line.
fn apply_option(
    a: &mut ClientArgs,
    port: &mut Option<u16>,
    user: &mut Option<String>,
    option: &str,
) -> Result<(), String> {
    let (key, value) = option
        .split_once('=')
        .or_else(|| option.split_once(char::is_whitespace))
        .map(|(k, v)| (k.trim(), v.trim()))
        .ok_or_else(|| format!("-o {option}: expected OPTION=VALUE"))?;
    match key.to_ascii_lowercase().as_str() {
        "port" => {
            // -p given earlier wins, as the first value wins in OpenSSH.
            port.get_or_insert(parse_port(value)?);
        }
        "user" => {
            user.get_or_insert(value.to_string());
        }
        // Also resolved with the files (`forward_args::resolve`).
        "localforward"
        | "remoteforward"
        | "dynamicforward"
        | "exitonforwardfailure"
        | "gatewayports" => a.forward_options.push(format!("{key} {value}")),
        "forwardagent" => {
            a.forward_agent.get_or_insert(forward_agent(value)?);
        }
        "requesttty" => {
            a.request_tty.get_or_insert(RequestTty::parse(value)?);
        }
        "escapechar" => {
            a.escape_char.get_or_insert(EscapeChar::parse(value)?);
        }
        _ => {}
    }
    a.options.push(option.to_string());
    Ok(())
}

fn parse_port(value: &str) -> Result<u16, String> {
    value
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("Bad port '{value}'"))
}

fn text(parser: &mut lexopt::Parser) -> Result<String, String> {
    parser
        .value()
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|v| format!("invalid value {v:?}"))
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Invocation, String> {
        parse_args(args.iter().map(OsString::from))
    }

    fn connect(args: &[&str]) -> ClientArgs {
        match parse(args).unwrap() {
            Invocation::Connect(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ssh_style_command_line() {
        let a = connect(&[
            "-p",
            "2222",
            "-i",
            "k1",
            "-i",
            "k2",
            "-o",
            "UserKnownHostsFile=/tmp/kh",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "BatchMode=yes",
            "-F",
            "none",
            "-v",
            "bob@example.org",
            "ls",
            "-l",
            "/tmp",
        ]);
        assert_eq!(a.host, "example.org");
        assert_eq!(a.user, "bob");
        assert_eq!(a.port, 2222);
        assert_eq!(a.identities, [PathBuf::from("k1"), PathBuf::from("k2")]);
        assert_eq!(
            a.options,
            [
                "UserKnownHostsFile=/tmp/kh",
                "StrictHostKeyChecking=accept-new",
                "BatchMode=yes"
            ]
        );
        assert_eq!(a.verbose, 1);
        assert_eq!(
            a.command, "ls -l /tmp",
            "options after the command are its own"
        );
    }

    #[test]
    fn options_may_follow_the_host_and_l_wins_over_user_at() {
        let a = connect(&["alice@h", "-l", "carol", "-p", "22", "echo", "hi"]);
        assert_eq!(a.user, "carol");
        assert_eq!(a.command, "echo hi");
        let a = connect(&["[::1]"]);
        assert_eq!(a.host, "::1");
        assert_eq!(a.command, "");
    }

    #[test]
    fn bad_options_are_errors() {
        assert!(parse(&["-o", "Bogus", "h"])
            .unwrap_err()
            .contains("expected OPTION=VALUE"));
        assert_eq!(
            connect(&["-F", "/etc/cfg", "h"]).config,
            ConfigFiles::File(PathBuf::from("/etc/cfg"))
        );
        assert_eq!(connect(&["-F", "none", "h"]).config, ConfigFiles::None);
        assert_eq!(connect(&["h"]).config, ConfigFiles::Default);
        assert!(parse(&["-p", "x", "h"]).unwrap_err().contains("Bad port"));
        assert!(parse(&[]).is_err());
        assert_eq!(parse(&["--demo"]).unwrap(), Invocation::Demo);
    }

    #[test]
    fn capital_c_asks_for_compression_as_an_option_line() {
        assert_eq!(connect(&["-C", "h"]).options, ["Compression yes"]);
        assert!(connect(&["h"]).options.is_empty());
    }

    #[test]
    fn capital_a_forwards_the_agent_and_small_a_does_not() {
        assert_eq!(connect(&["h"]).forward_agent, None);
        assert_eq!(connect(&["-A", "h"]).forward_agent, Some(true));
        assert_eq!(connect(&["-A", "-a", "h"]).forward_agent, Some(false));
        assert_eq!(
            connect(&["-o", "ForwardAgent=yes", "h"]).forward_agent,
            Some(true)
        );
        // The first -o value wins, as in ssh.
        assert_eq!(
            connect(&["-o", "ForwardAgent=no", "-o", "ForwardAgent=yes", "h"]).forward_agent,
            Some(false)
        );
        assert!(parse(&["-o", "ForwardAgent=/tmp/s", "h"]).is_err());
    }

    #[test]
    fn t_once_asks_twice_forces_and_capital_t_refuses() {
        assert_eq!(connect(&["h"]).request_tty, None);
        assert_eq!(connect(&["-t", "h"]).request_tty, Some(RequestTty::Yes));
        assert_eq!(connect(&["-tt", "h"]).request_tty, Some(RequestTty::Force));
        assert_eq!(
            connect(&["-t", "-t", "h"]).request_tty,
            Some(RequestTty::Force)
        );
        assert_eq!(connect(&["-T", "h"]).request_tty, Some(RequestTty::No));
        assert_eq!(
            connect(&["-o", "RequestTTY=force", "h"]).request_tty,
            Some(RequestTty::Force)
        );
        assert_eq!(
            connect(&["-e", "none", "h"]).escape_char,
            Some(EscapeChar::None)
        );
        assert_eq!(
            connect(&["-o", "EscapeChar=^]", "h"]).escape_char,
            Some(EscapeChar::Char(0x1d))
        );
        assert!(parse(&["-e", "xy", "h"]).is_err());
    }

    #[test]
    fn record_and_replay_take_a_file() {
        let a = connect(&["--record", "/tmp/t.bin", "h", "echo"]);
        assert_eq!(a.record, Some(PathBuf::from("/tmp/t.bin")));
        assert_eq!(connect(&["h"]).record, None);
        assert_eq!(
            parse(&["--replay", "t.bin"]).unwrap(),
            Invocation::Replay(PathBuf::from("t.bin"))
        );
        assert!(parse(&["--replay"]).is_err());
    }
}
