//! The Twisted Conch client how-to's `EchoOptions` and `ConnectionParameters`: where to connect, as
//! whom, with which credentials and known hosts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use conch_cli::how_to::current_user;
use conch_core::config::COMPRESSION_CLIENT_ON;
use conch_tokio::{load_private_key, KeyFileError};
use conch_tokio::{
    AgentClient, ClientOptions, CommandEndpoint, HostKeyPolicy, HostKeyUi, KnownHostsFile,
    KnownHostsPolicy, PrivateKey,
};

/// The options the examples take.
pub const USAGE: &str = "\
options:
  -h, --host HOST          hostname of the SSH server to which to connect [localhost]
  -p, --port PORT          port number of SSH server to which to connect [22]
  -u, --username USER      username with which to authenticate with the SSH server [$USER]
  -i, --identity FILE      file from which to read a private key to use for authentication
      --password PASSWORD  password to use for authentication
  -k, --knownhosts FILE    file containing known ssh server public key data [~/.ssh/known_hosts]
      --no-agent           disable use of key agent
  -C, --compress           compress the session if the server allows (ssh -C:
                           zlib@openssh.com, then zlib)
      --help               show this help";

/// Where and how the examples connect (the how-to's `ConnectionParameters`).
#[derive(Clone)]
pub struct ConnectionParameters {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// User name to log in as.
    pub username: String,
    /// Password, if any (prefer keys).
    pub password: Option<String>,
    /// Private keys to offer.
    pub keys: Vec<PrivateKey>,
    /// The known_hosts file (the user's default when `None`).
    pub known_hosts: Option<KnownHostsFile>,
    /// What to do with unknown hosts (ask, like `ssh`, by default).
    pub known_hosts_policy: KnownHostsPolicy,
    /// Who is asked and warned (the terminal when `None`).
    pub ui: Option<Arc<dyn HostKeyUi>>,
    /// The ssh-agent, if one is to be used.
    pub agent: Option<AgentClient>,
    /// Ask for compression (`-C`), as ssh's `Compression yes`.
    pub compress: bool,
}

impl std::fmt::Debug for ConnectionParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionParameters")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("keys", &self.keys)
            .field("known_hosts", &self.known_hosts)
            .field("known_hosts_policy", &self.known_hosts_policy)
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

impl ConnectionParameters {
    /// Parses the how-to's options (see [`USAGE`]). Like the how-to, an
    /// identity file that does not exist is ignored, an encrypted one asks
    /// for its passphrase on the terminal, a known_hosts file that does not
    /// exist means the default, and the agent is used when
    /// `SSH_AUTH_SOCK` is set unless `--no-agent`.
    ///
    /// `Err` carries the message to print (usage errors, unreadable keys);
    /// `--help` gives `Err(USAGE)`.
    pub fn from_command_line(
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Result<Self, String> {
        use lexopt::prelude::*;
        let mut host = "localhost".to_string();
        let mut port = 22u16;
        let mut username = current_user();
        let mut identity: Option<PathBuf> = None;
        let mut password = None;
        let mut known_hosts = expand_home("~/.ssh/known_hosts");
        let mut no_agent = false;
        let mut compress = false;

        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
            match arg {
                Short('h') | Long("host") => host = value(&mut parser)?,
                Short('p') | Long("port") => {
                    port = value(&mut parser)?
                        .parse()
                        .map_err(|e| format!("--port: {e}"))?
                }
                Short('u') | Long("username") => username = value(&mut parser)?,
                Short('i') | Long("identity") => identity = Some(expand_home(&value(&mut parser)?)),
                Long("password") => password = Some(value(&mut parser)?),
                Short('k') | Long("knownhosts") => known_hosts = expand_home(&value(&mut parser)?),
                Long("no-agent") => no_agent = true,
                Short('C') | Long("compress") => compress = true,
                Long("help") => return Err(USAGE.to_string()),
                other => return Err(format!("{}\n{USAGE}", other.unexpected())),
            }
        }

        let mut keys = Vec::new();
        if let Some(path) = identity.filter(|p| p.exists()) {
            keys.push(read_key(&path).map_err(|e| e.to_string())?);
        }
        let known_hosts = known_hosts
            .exists()
            .then(|| KnownHostsFile::new(known_hosts));
        let agent = if no_agent {
            None
        } else {
            AgentClient::from_env()
        };
        Ok(ConnectionParameters {
            host,
            port,
            username,
            password,
            keys,
            known_hosts,
            known_hosts_policy: KnownHostsPolicy::Ask,
            ui: None,
            agent,
            compress,
        })
    }

    /// The endpoint that runs `command` with these parameters (the how-to's
    /// `endpointForCommand`).
    pub fn endpoint_for_command(&self, command: &str) -> CommandEndpoint {
        let mut endpoint =
            CommandEndpoint::new_connection(command, self.username.clone(), self.host.clone())
                .port(self.port)
                .keys(self.keys.iter().cloned())
                .known_hosts_policy(self.known_hosts_policy);
        if let Some(password) = &self.password {
            endpoint = endpoint.password(password.clone());
        }
        if let Some(file) = &self.known_hosts {
            endpoint = endpoint.known_hosts(file.clone());
        }
        if let Some(ui) = &self.ui {
            endpoint = endpoint.ui(ui.clone());
        }
        if let Some(agent) = &self.agent {
            endpoint = endpoint.agent(agent.clone());
        }
        if self.compress {
            // The endpoint puts its own host key checking in place of
            // this placeholder policy.
            let mut options = ClientOptions::new(HostKeyPolicy::reject_all());
            options
                .config_mut()
                .transport
                .algorithms
                .set_compression(COMPRESSION_CLIENT_ON);
            endpoint = endpoint.options(options);
        }
        endpoint
    }
}

/// Reads a private key file, asking for the passphrase on the terminal if
/// it is encrypted (the how-to's `readKey`).
pub fn read_key(path: &Path) -> Result<PrivateKey, KeyFileError> {
    load_private_key(path, &mut |path| {
        rpassword::prompt_password(format!("{:?} keyphrase: ", path.display().to_string())).ok()
    })
}

/// The value of the option just read, as text.
fn value(parser: &mut lexopt::Parser) -> Result<String, String> {
    parser
        .value()
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|v| format!("invalid value {v:?}"))
}

/// `~/x` with `HOME` put in.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_options_parse() {
        let p = ConnectionParameters::from_command_line([
            "-h",
            "example.org",
            "--port",
            "2222",
            "-u",
            "bob",
            "--password",
            "pw",
            "-k",
            "/nonexistent/known_hosts",
            "--no-agent",
            "-C",
        ])
        .unwrap();
        assert!(p.compress);
        assert_eq!(p.host, "example.org");
        assert_eq!(p.port, 2222);
        assert_eq!(p.username, "bob");
        assert_eq!(p.password.as_deref(), Some("pw"));
        assert!(p.known_hosts.is_none(), "a missing file means the default");
        assert!(p.agent.is_none());
        assert!(p.keys.is_empty());
    }

    #[test]
    fn bad_options_are_reported() {
        let e = ConnectionParameters::from_command_line(["--bogus"]).unwrap_err();
        assert!(e.contains("--bogus"), "{e}");
        let e = ConnectionParameters::from_command_line(["-p", "x"]).unwrap_err();
        assert!(e.contains("--port"), "{e}");
    }
}
