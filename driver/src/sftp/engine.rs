//! The SFTP client state machine over a channel: whichever task waits for
//! a reply moves the bytes (writes what the state machine queued, reads
//! what the channel received and hands it in), so no task of its own is
//! spawned and every runtime, the blocking adapter's `block_on` included,
//! drives it the same way. Every waiter is registered with the channel and
//! with the engine, so a reply read by one task wakes the task it belongs
//! to.

use std::collections::HashMap;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use conch_sftp::client::{Client, ClientEvent, Reply, ServerInfo};
use conch_sftp::packet::Request;
use conch_sftp::{ProtocolError, StatusError};

use super::SftpError;
use crate::channel::Channel;
use crate::wakers::WakerSet;

/// Why the SFTP session ended.
#[derive(Debug, Clone)]
pub(crate) enum Fatal {
    Protocol(ProtocolError),
    Channel(std::io::ErrorKind, String),
    Closed,
}

impl From<Fatal> for SftpError {
    fn from(f: Fatal) -> Self {
        match f {
            Fatal::Protocol(e) => SftpError::Protocol(e),
            Fatal::Channel(kind, msg) => SftpError::Channel(std::io::Error::new(kind, msg)),
            Fatal::Closed => SftpError::Closed,
        }
    }
}

#[derive(Debug)]
struct State {
    client: Client,
    replies: HashMap<u32, Result<Reply, StatusError>>,
    server: Option<ServerInfo>,
    fatal: Option<Fatal>,
    wakers: WakerSet,
}

/// The shared engine of one SFTP session.
#[derive(Debug)]
pub(crate) struct Engine {
    channel: Channel,
    state: Mutex<State>,
}

/// The most bytes taken from the channel in one read: one packet's worth.
const READ_CHUNK: usize = 256 * 1024;

impl Engine {
    pub(crate) fn new(channel: Channel) -> Arc<Self> {
        Arc::new(Engine {
            channel,
            state: Mutex::new(State {
                client: Client::new(),
                replies: HashMap::new(),
                server: None,
                fatal: None,
                wakers: WakerSet::default(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: go on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves bytes both ways until the channel has nothing more for now;
    /// returns whether a reply (or the version) arrived.
    fn drive(&self, st: &mut State, cx: &mut Context<'_>) -> bool {
        if st.fatal.is_some() {
            return false;
        }
        loop {
            let out = st.client.transmit();
            if out.is_empty() {
                break;
            }
            match self.channel.poll_write_data(cx, out) {
                Poll::Ready(Ok(n)) => st.client.consume_transmit(n),
                Poll::Ready(Err(e)) => {
                    st.fatal = Some(Fatal::Channel(e.kind(), e.to_string()));
                    return true;
                }
                Poll::Pending => break,
            }
        }
        let mut delivered = false;
        loop {
            match self.channel.poll_read_chunk(cx, READ_CHUNK) {
                Poll::Ready(Ok(Some(chunk))) => {
                    if let Err(e) = st.client.handle_input(&chunk) {
                        st.fatal = Some(Fatal::Protocol(e));
                        return true;
                    }
                    while let Some(ev) = st.client.poll_event() {
                        delivered = true;
                        match ev {
                            ClientEvent::Ready(info) => st.server = Some(info),
                            ClientEvent::Reply { id, result } => {
                                st.replies.insert(id, result);
                            }
                        }
                    }
                }
                Poll::Ready(Ok(None)) => {
                    st.fatal = Some(Fatal::Closed);
                    return true;
                }
                Poll::Ready(Err(e)) => {
                    st.fatal = Some(Fatal::Channel(e.kind(), e.to_string()));
                    return true;
                }
                Poll::Pending => return delivered,
            }
        }
    }

    /// Waits for the server's version.
    pub(crate) async fn ready(&self) -> Result<ServerInfo, SftpError> {
        poll_fn(|cx| {
            let mut st = self.lock();
            if self.drive(&mut st, cx) {
                st.wakers.wake_all();
            }
            if let Some(info) = &st.server {
                return Poll::Ready(Ok(info.clone()));
            }
            if let Some(f) = &st.fatal {
                return Poll::Ready(Err(f.clone().into()));
            }
            st.wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Queues a request; its reply is then awaited with [`Engine::poll_reply`].
    pub(crate) fn send(&self, request: &Request) -> Result<u32, SftpError> {
        let mut st = self.lock();
        if let Some(f) = &st.fatal {
            return Err(f.clone().into());
        }
        st.client.send(request).map_err(SftpError::Protocol)
    }

    /// Polls for the reply to request `id`.
    pub(crate) fn poll_reply(
        &self,
        cx: &mut Context<'_>,
        id: u32,
    ) -> Poll<Result<Reply, SftpError>> {
        let mut st = self.lock();
        if let Some(r) = st.replies.remove(&id) {
            return Poll::Ready(r.map_err(SftpError::Status));
        }
        if st.fatal.is_none() && self.drive(&mut st, cx) {
            st.wakers.wake_all();
        }
        if let Some(r) = st.replies.remove(&id) {
            return Poll::Ready(r.map_err(SftpError::Status));
        }
        if let Some(f) = &st.fatal {
            return Poll::Ready(Err(f.clone().into()));
        }
        st.wakers.register(cx.waker());
        Poll::Pending
    }

    /// Hands what is queued to the channel now (and takes in what came),
    /// without waiting: a request sent behind (a file's write) goes out
    /// even if its sender does not poll again soon.
    pub(crate) fn push(&self, cx: &mut Context<'_>) {
        let mut st = self.lock();
        if self.drive(&mut st, cx) {
            st.wakers.wake_all();
        }
    }

    /// Whether the reply to `id` has arrived (without waiting).
    pub(crate) fn has_reply(&self, id: u32) -> bool {
        self.lock().replies.contains_key(&id)
    }

    /// Forgets request `id`: its reply is dropped whenever it comes.
    pub(crate) fn forget(&self, id: u32) {
        let mut st = self.lock();
        if st.replies.remove(&id).is_none() {
            st.client.forget(id);
        }
    }

    /// Sends a request whose reply nobody waits for (a close from a
    /// destructor), writing what the channel takes now.
    pub(crate) fn send_and_forget(&self, request: &Request) {
        let mut st = self.lock();
        if st.fatal.is_some() {
            return;
        }
        if let Ok(id) = st.client.send(request) {
            st.client.forget(id);
        }
        let mut cx = Context::from_waker(Waker::noop());
        self.drive(&mut st, &mut cx);
    }

    /// Sends `request` and waits for its reply. Dropping the future
    /// forgets the request.
    pub(crate) async fn call(&self, request: &Request) -> Result<Reply, SftpError> {
        let id = self.send(request)?;
        let mut guard = Pending {
            engine: self,
            id,
            done: false,
        };
        let r = poll_fn(|cx| self.poll_reply(cx, id)).await;
        guard.done = true;
        r
    }

    /// The channel underneath.
    pub(crate) fn channel(&self) -> &Channel {
        &self.channel
    }
}

/// Forgets a request whose waiter went away.
pub(crate) struct Pending<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) id: u32,
    pub(crate) done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.engine.forget(self.id);
        }
    }
}
