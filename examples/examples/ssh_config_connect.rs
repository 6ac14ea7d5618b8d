//! Connecting the way `ssh ALIAS` does: the alias is resolved from the
//! ssh_config files (or from options given in code) into a
//! `conch_openssh::HostConfig`, whose options (algorithms, timeouts,
//! ProxyCommand, known_hosts checking ...) and credentials (agent,
//! identity files, in `PreferredAuthentications` order) connect with
//! conch-tokio.
//!
//! ```sh
//! # ~/.ssh/config and /etc/ssh/ssh_config, as `ssh db uptime`:
//! cargo run -p conch-examples --example ssh_config_connect -- db uptime
//! # one file (`-F`):
//! cargo run -p conch-examples --example ssh_config_connect -- -F ./config db uptime
//! # no file: everything in code (`-o`, as many as wanted):
//! cargo run -p conch-examples --example ssh_config_connect -- -F none \
//!     -o HostName=127.0.0.1 -o Port=2222 -o User=alice \
//!     -o IdentityFile=~/.ssh/id_ed25519 -o "ProxyCommand=nc %h %p" db uptime
//! ```

use std::sync::Arc;

use conch_openssh::ssh_config::{ConfigFiles, LoadOptions, SshConfig};
use conch_openssh::{ConsoleUi, HostConfig};
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut load = LoadOptions::from_environment();
    let mut alias = None;
    let mut command = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-F" => {
                let file = args.next().ok_or("-F needs a file or none")?;
                load.files = match file.as_str() {
                    "none" => ConfigFiles::None,
                    _ => ConfigFiles::File(file.into()),
                };
            }
            "-o" => load = load.with_option(args.next().ok_or("-o needs an option")?),
            _ if alias.is_none() => alias = Some(arg),
            _ => command.push(arg),
        }
    }
    let alias =
        alias.ok_or("usage: ssh_config_connect [-F FILE|none] [-o OPTION]... ALIAS COMMAND...")?;

    // Every option's value, as `ssh -G ALIAS` prints it ...
    let resolved = SshConfig::load(&alias, &load)?;
    // ... and what the values do. The terminal is asked about unknown
    // host keys (not under BatchMode).
    let host = HostConfig::from_resolved(resolved, Arc::new(ConsoleUi::new()))?;
    for option in host.unsupported() {
        eprintln!("{option}: not supported; ignored");
    }
    let session = conch_tokio::connect(host.hostname(), host.port(), host.options()).await?;
    // Listing the agent's keys and reading key files block: off the runtime.
    let credentials = host.clone();
    let methods = tokio::task::spawn_blocking(move || credentials.auth_methods()).await?;
    session.authenticate(host.user(), methods).await?;

    let command = match host.resolved().remote_command()? {
        Some(remote) if command.is_empty() => remote,
        _ => command.join(" "),
    };
    let channel = session.exec(command).await?;
    let mut output = String::new();
    (&channel).read_to_string(&mut output).await?;
    print!("{output}");
    let status = channel.exit_status().await?;
    std::process::exit(status.shell_code().min(255) as i32);
}
