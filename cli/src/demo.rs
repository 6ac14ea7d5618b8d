//! `conch --demo`: the Twisted Conch client how-to's two examples against an in-process server, on
//! a machine with nothing set up (no `~/.ssh`, no agent, no sshd).
//!
//! It starts the same server `conchd` runs ([`crate::server`]) on a free
//! loopback port with a fresh host key, makes a fresh client key that the
//! server authorizes, and a temporary known_hosts file checked with the
//! accept-new policy (the server's fresh key is trusted on first use and
//! saved, hashed; the second example then finds it known). Then it runs the
//! echo client (bif, pow, zot through `/bin/cat`) and the 50 `/bin/echo N`
//! commands on one connection, printing what they exchange.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use conch_core::known_hosts::key_type_label;
use conch_core::{PrivateKey, PublicKey};
use conch_openssh::{HostKeyUi, KnownHostsFile, KnownHostsPolicy};
use conch_tokio::CommandEndpoint;

use crate::how_to::{current_user, echo, shared, BoxError};
use crate::server::{no_log, Conchd, Passwords, ServerSetup};

/// Shows host key notices on stdout, as part of the demo's story; never
/// asked (accept-new does not ask).
struct DemoUi<W: Write + Send> {
    out: Arc<Mutex<W>>,
}

impl<W: Write + Send> HostKeyUi for DemoUi<W> {
    fn confirm(&self, _prompt: &str, _key: &PublicKey) -> bool {
        false
    }

    fn warn(&self, message: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = write!(out, "  {message}");
    }
}

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        use rand_core::Rng;
        let dir = std::env::temp_dir().join(format!(
            "conch-demo-{}-{:08x}",
            std::process::id(),
            rand_core::UnwrapErr(getrandom::SysRng).next_u32()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the demo, writing its story to `out`.
pub async fn run<W: Write + Send + 'static>(out: W) -> Result<(), BoxError> {
    let out = Arc::new(Mutex::new(out));
    let say = |text: String| {
        let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(o, "{text}");
        let _ = o.flush();
    };

    let host_key = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let client_key = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let setup = ServerSetup {
        host_key: host_key.clone(),
        host_certificate: None,
        trusted_user_cas: Vec::new(),
        authorized_keys: [client_key.public_key().clone()].into_iter().collect(),
        passwords: Passwords::None,
        forwarding: conch_openssh::ForwardPolicy::default(),
        accept_env: Default::default(),
        log: no_log(),
        sftp: Default::default(),
        limits: Default::default(),
        allow_agent_forwarding: true,
    };
    let server = Conchd::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), &setup).await?;
    let addr = server.local_addr()?;
    let server_task = tokio::spawn(server.run());
    say(format!(
        "conch --demo: an in-process conchd listens on {addr} with a fresh {} host key {}",
        key_type_label(host_key.public_key()),
        host_key.public_key().fingerprint()
    ));
    say(format!(
        "  client key: a fresh {} key {}, authorized by that server",
        key_type_label(client_key.public_key()),
        client_key.public_key().fingerprint()
    ));

    let dir = TempDir::new()?;
    let known_hosts = dir.0.join("known_hosts");
    say(format!(
        "  known hosts: a temporary file {}, policy accept-new: the new host key is trusted on first use and saved (hashed); a changed key would be refused",
        known_hosts.display()
    ));
    // What the how-to's `ConnectionParameters` describe, for this server.
    let ui = DemoUi { out: out.clone() };
    let endpoint =
        CommandEndpoint::new_connection("/bin/cat", current_user(), addr.ip().to_string())
            .port(addr.port())
            .keys([client_key])
            .known_hosts(KnownHostsFile::new(&known_hosts))
            .known_hosts_policy(KnownHostsPolicy::AcceptNew)
            .ui(Arc::new(ui));

    say(String::new());
    say(format!(
        "== echoclient_ssh: writing {} to /bin/cat, one line at a time ==",
        echo::NOISE.join(", ")
    ));
    let status = {
        let mut buffer = Vec::new();
        let status = echo::run(&endpoint, &mut buffer).await;
        let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
        o.write_all(&buffer)?;
        status?
    };
    say(format!("/bin/cat ended: {status}"));

    say(String::new());
    say(format!(
        "== echoclient_shared_ssh: {} /bin/echo commands on one shared connection ==",
        shared::COMMANDS
    ));
    let ran = shared::fifty_echoes(&endpoint, &*out).await?;
    say(format!(
        "{ran} commands ran on one connection; the host key was found in the known_hosts file this time"
    ));

    server_task.abort();
    say(String::new());
    say("demo finished".into());
    Ok(())
}

/// `conch --demo`'s `main`: runs the demo on stdout; exit status 0 on success.
pub fn main() -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conch: cannot start the runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(std::io::stdout())) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("conch --demo failed: {e}");
            1
        }
    }
}
