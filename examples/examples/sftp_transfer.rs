//! SFTP with conch-tokio: lists a remote directory, or downloads or
//! uploads a file (or, with `-r`, a directory tree) with many requests in
//! flight and a progress line.
//!
//! ```text
//! cargo run -p conch-examples --example sftp_transfer -- -h HOST -u USER -i ~/.ssh/id_ed25519 -- ls /tmp
//! cargo run -p conch-examples --example sftp_transfer -- -h HOST -- get big.iso /tmp/big.iso
//! cargo run -p conch-examples --example sftp_transfer -- -h HOST -- put -r ./photos photos
//! ```
//!
//! The connection options are the how-to's (see `conch_examples::USAGE`);
//! the words after `--` are the command.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use conch_examples::{BoxError, ConnectionParameters};
use conch_tokio::sftp::{Progress, TransferOptions};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let (options, command) = (&args[..split], args.get(split + 1..).unwrap_or_default());
    let parameters = match ConnectionParameters::from_command_line(options) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&parameters, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sftp_transfer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(parameters: &ConnectionParameters, command: &[String]) -> Result<(), BoxError> {
    // The endpoint's session (its command is not run): authentication as
    // the how-to's options say, then the `sftp` subsystem on a channel.
    let session = parameters
        .endpoint_for_command("")
        .connect_session()
        .await?;
    let sftp = session.sftp().await?;
    let words: Vec<&str> = command.iter().map(String::as_str).collect();
    let recursive = words.get(1) == Some(&"-r");
    let paths: Vec<&str> = words
        .iter()
        .skip(1)
        .copied()
        .filter(|w| *w != "-r")
        .collect();
    let opts = TransferOptions::default();
    let mut progress = |p: &Progress<'_>| {
        let total = p.total.map_or(String::from("?"), |t| t.to_string());
        eprint!("\r{}: {} / {total} bytes", p.path, p.transferred);
        let _ = std::io::stderr().flush();
    };
    match (words.first().copied(), paths.as_slice()) {
        (Some("ls"), [dir]) | (Some("ls"), [dir, ..]) => {
            for entry in sftp.list_dir(dir).await? {
                println!("{}", entry.longname);
            }
        }
        (Some("get"), [remote, local]) if recursive => {
            let stats = sftp
                .download_tree(remote, Path::new(local), &opts, Some(&mut progress))
                .await?;
            eprintln!(
                "\n{} files, {} bytes; skipped: {:?}",
                stats.files, stats.bytes, stats.skipped
            );
        }
        (Some("get"), [remote, local]) => {
            let stats = sftp
                .download(remote, Path::new(local), &opts, Some(&mut progress))
                .await?;
            eprintln!("\n{} bytes", stats.bytes);
        }
        (Some("put"), [local, remote]) if recursive => {
            let stats = sftp
                .upload_tree(Path::new(local), remote, &opts, Some(&mut progress))
                .await?;
            eprintln!("\n{} files, {} bytes", stats.files, stats.bytes);
        }
        (Some("put"), [local, remote]) => {
            let stats = sftp
                .upload(Path::new(local), remote, &opts, Some(&mut progress))
                .await?;
            eprintln!("\n{} bytes", stats.bytes);
        }
        _ => return Err("command: ls DIR | get [-r] REMOTE LOCAL | put [-r] LOCAL REMOTE".into()),
    }
    Ok(())
}
