//! The client role as a state machine: requests go out with fresh ids, any
//! number in flight; replies are matched to their request by id (servers
//! may answer out of order, draft-ietf-secsh-filexfer-02 section 6.1),
//! checked against the reply types the request allows, and come out as
//! [`ClientEvent`]s. No I/O: the caller moves [`Client::transmit`]'s bytes
//! to the channel and hands received bytes to [`Client::handle_input`].

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;

use crate::attrs::FileAttributes;
use crate::error::{ProtocolError, StatusCode, StatusError};
use crate::ext::{Limits, StatVfs, UsersGroups};
use crate::packet::{
    encode_init, kind, Expect, Framer, Handle, NameEntry, Request, Response, MAX_PACKET_LEN,
    VERSION,
};
use crate::wire::Reader;

/// What the server said in SSH_FXP_VERSION.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The version the server speaks (3 for OpenSSH).
    pub version: u32,
    /// Extensions announced: (name, data) pairs (OpenSSH PROTOCOL section 4).
    pub extensions: Vec<(String, Vec<u8>)>,
}

impl ServerInfo {
    /// Whether the server announced the extension `name`.
    pub fn supports(&self, name: &str) -> bool {
        self.extensions.iter().any(|(n, _)| n == name)
    }
}

/// A successful reply, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// SSH_FX_OK for a request answered by a status.
    Ok,
    /// SSH_FX_EOF for a READ or READDIR: no more data or entries.
    Eof,
    /// A handle (OPEN, OPENDIR).
    Handle(Handle),
    /// Data (READ); may be shorter than asked.
    Data(Bytes),
    /// Names (READDIR, REALPATH, READLINK, expand-path, home-directory).
    Name(Vec<NameEntry>),
    /// Attributes (STAT, LSTAT, FSTAT).
    Attrs(FileAttributes),
    /// File system statistics (statvfs, fstatvfs).
    StatVfs(StatVfs),
    /// The server's limits.
    Limits(Limits),
    /// Names for ids.
    UsersGroups(UsersGroups),
    /// An unknown extension's reply data.
    Extended(Bytes),
}

/// What the client state machine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The version exchange is done: requests may be sent.
    Ready(ServerInfo),
    /// The reply to request `id`.
    Reply {
        /// The id [`Client::send`] returned.
        id: u32,
        /// The reply, or the server's error status.
        result: Result<Reply, StatusError>,
    },
}

/// The SFTP client state machine.
#[derive(Debug)]
pub struct Client {
    out: Vec<u8>,
    sent: usize,
    framer: Framer,
    pending: HashMap<u32, Expect>,
    forgotten: HashSet<u32>,
    next_id: u32,
    server: Option<ServerInfo>,
    events: VecDeque<ClientEvent>,
    failed: Option<ProtocolError>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client whose SSH_FXP_INIT is queued; replies longer than
    /// [`MAX_PACKET_LEN`] are refused.
    pub fn new() -> Self {
        Self::with_max_packet(MAX_PACKET_LEN)
    }

    /// A client refusing replies longer than `max` bytes.
    pub fn with_max_packet(max: u32) -> Self {
        let mut out = Vec::new();
        encode_init(&mut out);
        Client {
            out,
            sent: 0,
            framer: Framer::new(max),
            pending: HashMap::new(),
            forgotten: HashSet::new(),
            next_id: 0,
            server: None,
            events: VecDeque::new(),
            failed: None,
        }
    }

    /// The server's version and extensions, once it answered.
    pub fn server(&self) -> Option<&ServerInfo> {
        self.server.as_ref()
    }

    /// The error that ended the session, if one did.
    pub fn error(&self) -> Option<&ProtocolError> {
        self.failed.as_ref()
    }

    /// Requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Queues `request` and returns its id.
    pub fn send(&mut self, request: &Request) -> Result<u32, ProtocolError> {
        if self.failed.is_some() {
            return Err(ProtocolError::Failed);
        }
        // Ids are only matched among requests in flight, so wrapping
        // around is fine as long as an id still in flight is skipped.
        let mut id = self.next_id;
        while self.pending.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        request.encode(id, &mut self.out);
        self.pending.insert(id, request.expect());
        Ok(id)
    }

    /// Forgets request `id`: its reply, when it comes, is dropped.
    pub fn forget(&mut self, id: u32) {
        // Kept in `pending`, so the reply is still recognised (and the id
        // not reused) when it comes; it is then dropped.
        if self.pending.contains_key(&id) {
            self.forgotten.insert(id);
        }
    }

    /// The bytes to send next (empty when there are none).
    pub fn transmit(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// Marks `n` bytes of [`Client::transmit`] as sent.
    pub fn consume_transmit(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > 64 * 1024 && self.sent * 2 > self.out.len() {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Handles bytes received from the server. A protocol error ends the
    /// session: it is returned now and by every later call.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.framer.push(data);
        loop {
            let packet = match self.framer.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.fail(e)),
            };
            if let Err(e) = self.packet(packet.0, packet.1) {
                return Err(self.fail(e));
            }
        }
    }

    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.failed = Some(e.clone());
        e
    }

    fn packet(&mut self, ty: u8, body: Bytes) -> Result<(), ProtocolError> {
        let mut r = Reader::new(body);
        if self.server.is_none() {
            if ty != kind::VERSION {
                return Err(ProtocolError::VersionOrder);
            }
            let version = r.u32("version")?;
            if version < VERSION {
                return Err(ProtocolError::UnsupportedVersion(version));
            }
            let mut extensions = Vec::new();
            while r.remaining() > 0 {
                extensions.push((r.text("extension name")?, r.vec("extension data")?));
            }
            let info = ServerInfo {
                version: VERSION,
                extensions,
            };
            self.server = Some(info.clone());
            self.events.push_back(ClientEvent::Ready(info));
            return Ok(());
        }
        if ty == kind::VERSION {
            return Err(ProtocolError::VersionOrder);
        }
        let id = r.u32("request id")?;
        let expect = self
            .pending
            .remove(&id)
            .ok_or(ProtocolError::UnknownRequestId(id))?;
        let response = Response::decode(ty, &mut r, expect)?;
        if !response.answers(expect) {
            return Err(ProtocolError::MismatchedReply { id, kind: ty });
        }
        let result = match response {
            Response::Status { code, message, .. } => match (code, expect) {
                (StatusCode::Ok, Expect::Status) => Ok(Reply::Ok),
                (StatusCode::Ok, _) => {
                    return Err(ProtocolError::MismatchedReply { id, kind: ty });
                }
                (StatusCode::Eof, Expect::Data | Expect::Name) => Ok(Reply::Eof),
                (code, _) => Err(StatusError { code, message }),
            },
            Response::Handle(h) => Ok(Reply::Handle(h)),
            Response::Data(d) => Ok(Reply::Data(d)),
            Response::Name(n) => Ok(Reply::Name(n)),
            Response::Attrs(a) => Ok(Reply::Attrs(a)),
            Response::StatVfs(s) => Ok(Reply::StatVfs(s)),
            Response::Limits(l) => Ok(Reply::Limits(l)),
            Response::UsersGroups(u) => Ok(Reply::UsersGroups(u)),
            Response::Extended(b) => Ok(Reply::Extended(b)),
        };
        if self.forgotten.remove(&id) {
            return Ok(());
        }
        self.events.push_back(ClientEvent::Reply { id, result });
        Ok(())
    }
}
