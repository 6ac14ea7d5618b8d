//! # conch-sftp
//!
//! SFTP version 3 (draft-ietf-secsh-filexfer-02, the version OpenSSH
//! speaks) and OpenSSH's extensions (OpenSSH PROTOCOL section 4) as a pure
//! codec and two state machines, in the manner of `conch-core`: no I/O, no
//! clock, no threads. Bytes go in, bytes and events come out; the caller
//! (`conch-driver`) moves them over an SSH channel running the `sftp`
//! subsystem.
//!
//! - [`packet`]: every request and reply as a value, their encoding, and
//!   the [`packet::Framer`] splitting the stream, which checks each length
//!   before buffering it (packets of at most [`packet::MAX_PACKET_LEN`]).
//! - [`client::Client`]: request ids, any number of requests in flight,
//!   replies matched by id and checked against what the request allows.
//! - [`server::Server`]: answers requests over a [`server::FileSystem`]
//!   the application supplies (a real directory, or a virtual tree).
//! - [`names`]: the checks a client makes before it writes a file the
//!   server named (recursive downloads).
//!
//! ```
//! use conch_sftp::client::{Client, ClientEvent, Reply};
//! use conch_sftp::packet::Request;
//!
//! let mut client = Client::new();
//! let init = client.transmit().to_vec(); // SSH_FXP_INIT, for the channel
//! # let _ = init;
//! client.consume_transmit(client.transmit().len());
//! // The server's SSH_FXP_VERSION (type 2, version 3) arrives:
//! client.handle_input(&[0, 0, 0, 5, 2, 0, 0, 0, 3]).unwrap();
//! assert!(matches!(client.poll_event(), Some(ClientEvent::Ready(_))));
//! let id = client.send(&Request::Stat { path: b"/etc".to_vec() }).unwrap();
//! // SSH_FXP_STATUS(id, NO_SUCH_FILE) arrives:
//! let mut reply = vec![0, 0, 0, 13, 101];
//! reply.extend_from_slice(&id.to_be_bytes());
//! reply.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0]);
//! client.handle_input(&reply).unwrap();
//! match client.poll_event() {
//!     Some(ClientEvent::Reply { result: Err(e), .. }) => {
//!         assert_eq!(e.code, conch_sftp::StatusCode::NoSuchFile)
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attrs;
pub mod client;
mod error;
pub mod ext;
pub mod names;
pub mod packet;
pub mod server;
mod wire;

pub use attrs::{FileAttributes, FileType, OpenFlags};
pub use error::{ProtocolError, StatusCode, StatusError};

/// An `ls -l` style line as OpenSSH's sftp-server makes for NAME entries
/// (draft section 7 leaves the format to the server): mode, link count,
/// owner and group ids, size, date, name.
pub fn longname(name: &[u8], attrs: &FileAttributes) -> String {
    let mode = attrs.permissions.unwrap_or(0);
    let mut m = String::with_capacity(10);
    m.push(match attrs.file_type() {
        FileType::Dir => 'd',
        FileType::Symlink => 'l',
        FileType::File => '-',
        FileType::Other => '?',
    });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        m.push(if bits & 4 != 0 { 'r' } else { '-' });
        m.push(if bits & 2 != 0 { 'w' } else { '-' });
        m.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    let (uid, gid) = attrs.uid_gid.unwrap_or((0, 0));
    let mtime = attrs.mtime().unwrap_or(0);
    format!(
        "{m}    1 {uid:<8} {gid:<8} {:>8} {} {}",
        attrs.size.unwrap_or(0),
        names::format_time(mtime),
        String::from_utf8_lossy(name)
    )
}
