//! The server's half of agent forwarding (OpenSSH PROTOCOL.agent), as
//! sshd(8) does it: for a session whose client sent
//! `auth-agent-req@openssh.com`, a Unix socket in a fresh private directory
//! (`/tmp/ssh-XXXXXXXXXX/agent.PID`, directory 0700, socket 0600), named to
//! the command as `SSH_AUTH_SOCK`; each connection to it becomes an
//! `auth-agent@openssh.com` channel to the client, spliced to it. The
//! directory goes when the session's command ends.
//!
//! Agent messages are relayed as bytes and never gathered, so a hostile
//! client or local process cannot make the server hold more than the
//! splice's fixed buffer and the channel's window per connection, however
//! long a message claims to be; the length limit itself is the agent's
//! (OpenSSH's drops a message over 256 KiB).

use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_io::Async;
use conch_core::ForwardChannel;
use futures_util::future::{select, Either};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::pin::pin;

use crate::forward::open_forward;
use crate::forwarding::splice;
use crate::session::SessionInner;

/// How many forwarded agent connections one session serves at once; more
/// wait in the listen backlog.
const MAX_CONNECTIONS: usize = 64;

/// A session's forwarded agent socket; dropping it removes the socket and
/// its directory.
#[derive(Debug)]
pub(crate) struct AgentSocket {
    dir: PathBuf,
    path: PathBuf,
    listener: Async<UnixListener>,
}

impl AgentSocket {
    /// Creates `<tmp>/ssh-XXXXXXXXXX/agent.<pid>` as sshd does (mkdtemp's
    /// 0700 directory, so only the account can reach the socket).
    pub(crate) fn create(tmp: &Path) -> io::Result<AgentSocket> {
        let dir = private_dir(tmp)?;
        let path = dir.join(format!("agent.{}", std::process::id()));
        let bound = UnixListener::bind(&path)
            .and_then(|l| {
                fs::set_permissions(&path, Permissions::from_mode(0o600))?;
                Async::new(l)
            })
            .inspect_err(|_| {
                let _ = fs::remove_dir_all(&dir);
            })?;
        Ok(AgentSocket {
            dir,
            path,
            listener: bound,
        })
    }

    /// The socket's path: `SSH_AUTH_SOCK`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts connections and forwards each as an `auth-agent@openssh.com`
    /// channel, until dropped (when the session's command has ended): it
    /// never completes by itself.
    pub(crate) async fn serve(&self, session: Arc<SessionInner>) {
        let mut active = FuturesUnordered::new();
        loop {
            let full = active.len() >= MAX_CONNECTIONS;
            let accept = async {
                if full {
                    // Wait for one to end before taking another.
                    std::future::pending::<()>().await;
                }
                self.listener.accept().await
            };
            let one_ended = async {
                if active.next().await.is_none() {
                    std::future::pending::<()>().await;
                }
            };
            let accepted = match select(pin!(accept), pin!(one_ended)).await {
                Either::Left((accepted, _)) => Some(accepted),
                Either::Right(((), _)) => None,
            };
            match accepted {
                Some(Ok((stream, _))) => {
                    let session = session.clone();
                    active.push(async move {
                        // A refusal (the client forwards no agent, or its
                        // agent is unreachable) drops the local connection,
                        // which the agent client sees as no agent.
                        let target = ForwardChannel::AuthAgent;
                        if let Ok(channel) = open_forward(&session, &target).await {
                            let _ = splice(channel, stream).await;
                        }
                    });
                }
                // Out of descriptors or similar: stop taking connections
                // rather than spin; those under way go on. The session's
                // command is not ended for it, so this never returns.
                Some(Err(_)) => {
                    while active.next().await.is_some() {}
                    std::future::pending::<()>().await;
                }
                None => {}
            }
        }
    }
}

impl Drop for AgentSocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_dir(&self.dir);
    }
}

/// A new directory `<tmp>/ssh-XXXXXXXXXX`, mode 0700, its name random (as
/// mkdtemp(3) makes it); an existing name is skipped, never reused.
fn private_dir(tmp: &Path) -> io::Result<PathBuf> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..16 {
        let seed = crate::options::os_seed();
        let name: String = seed[..10]
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        let dir = tmp.join(format!("ssh-{name}"));
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                // The umask may have narrowed it; never widened.
                fs::set_permissions(&dir, Permissions::from_mode(0o700))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free agent socket directory name",
    ))
}
