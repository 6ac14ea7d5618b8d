//! A russh client taking the arguments `benches/side_by_side.py` gives
//! `ssh` and `conch` (`-i KEY`, `-p PORT`, `-o Ciphers=LIST`, `USER@HOST
//! COMMAND`; other `-o` and `-F` values are taken and ignored), running
//! one command and copying its stdout to ours, exiting with its status.
//! For benchmarks only: it accepts any host key.

use std::borrow::Cow;
use std::process::ExitCode;
use std::sync::Arc;

use russh::client;
use russh::keys::{load_secret_key, PrivateKeyWithHashAlg};
use russh::{ChannelMsg, Disconnect, Preferred};
use tokio::io::AsyncWriteExt;

struct AcceptAny;

impl client::Handler for AcceptAny {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

struct Args {
    key: String,
    port: u16,
    ciphers: Option<Vec<String>>,
    user: String,
    host: String,
    command: String,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut key, mut port, mut ciphers) = (None, 22, None);
    let mut rest = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-i" => key = it.next(),
            "-p" => port = it.next().and_then(|p| p.parse().ok()).ok_or("bad -p")?,
            "-F" => {
                it.next();
            }
            "-o" => {
                let o = it.next().ok_or("-o needs a value")?;
                if let Some(list) = o.strip_prefix("Ciphers=") {
                    ciphers = Some(list.split(',').map(str::to_string).collect());
                }
            }
            "-v" | "-q" | "-T" => {}
            _ => {
                rest.push(a);
                rest.extend(it.by_ref());
            }
        }
    }
    let dest = rest.first().ok_or("no destination")?;
    let (user, host) = dest
        .split_once('@')
        .ok_or("destination must be USER@HOST")?;
    Ok(Args {
        key: key.ok_or("-i KEY is needed")?,
        port,
        ciphers,
        user: user.to_string(),
        host: host.to_string(),
        command: rest[1..].join(" "),
    })
}

async fn run(args: Args) -> Result<u32, Box<dyn std::error::Error>> {
    let mut preferred = Preferred::default();
    if let Some(names) = &args.ciphers {
        let mut list = Vec::new();
        for n in names {
            list.push(
                russh::cipher::Name::try_from(n.as_str())
                    .map_err(|_| format!("unknown cipher {n}"))?,
            );
        }
        preferred.cipher = Cow::Owned(list);
    }
    let config = Arc::new(client::Config {
        preferred,
        ..Default::default()
    });
    let key = Arc::new(load_secret_key(&args.key, None)?);
    let mut session = client::connect(config, (args.host.as_str(), args.port), AcceptAny).await?;
    let hash = session.best_supported_rsa_hash().await?.flatten();
    let auth = session
        .authenticate_publickey(&args.user, PrivateKeyWithHashAlg::new(key, hash))
        .await?;
    if !auth.success() {
        return Err("authentication failed".into());
    }
    let mut channel = session.channel_open_session().await?;
    channel.exec(true, args.command.as_bytes()).await?;
    let mut stdout = tokio::io::stdout();
    let mut status = 255;
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => stdout.write_all(&data).await?,
            ChannelMsg::ExitStatus { exit_status } => status = exit_status,
            _ => {}
        }
    }
    stdout.flush().await?;
    session
        .disconnect(Disconnect::ByApplication, "", "en")
        .await?;
    Ok(status)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("russh-bench-client: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(run(args)) {
        Ok(status) => ExitCode::from(status.min(255) as u8),
        Err(e) => {
            eprintln!("russh-bench-client: {e}");
            ExitCode::from(255)
        }
    }
}
