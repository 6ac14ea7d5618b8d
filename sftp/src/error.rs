//! Errors: what a peer answered ([`StatusError`], from SSH_FXP_STATUS,
//! draft-ietf-secsh-filexfer-02 section 7) and how a peer broke the protocol
//! ([`ProtocolError`], which ends the SFTP session).

use std::fmt;
use std::io;

/// A status code of SSH_FXP_STATUS (draft-ietf-secsh-filexfer-02 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// `SSH_FX_OK` (0).
    Ok,
    /// `SSH_FX_EOF` (1): no more data or entries.
    Eof,
    /// `SSH_FX_NO_SUCH_FILE` (2).
    NoSuchFile,
    /// `SSH_FX_PERMISSION_DENIED` (3).
    PermissionDenied,
    /// `SSH_FX_FAILURE` (4): any other failure (OpenSSH's answer for a full
    /// disk, an existing target, a non-empty directory...).
    Failure,
    /// `SSH_FX_BAD_MESSAGE` (5): the request was malformed.
    BadMessage,
    /// `SSH_FX_NO_CONNECTION` (6).
    NoConnection,
    /// `SSH_FX_CONNECTION_LOST` (7).
    ConnectionLost,
    /// `SSH_FX_OP_UNSUPPORTED` (8).
    OpUnsupported,
    /// A code version 3 does not define.
    Other(u32),
}

impl StatusCode {
    /// The code on the wire.
    pub fn to_u32(self) -> u32 {
        match self {
            StatusCode::Ok => 0,
            StatusCode::Eof => 1,
            StatusCode::NoSuchFile => 2,
            StatusCode::PermissionDenied => 3,
            StatusCode::Failure => 4,
            StatusCode::BadMessage => 5,
            StatusCode::NoConnection => 6,
            StatusCode::ConnectionLost => 7,
            StatusCode::OpUnsupported => 8,
            StatusCode::Other(n) => n,
        }
    }

    /// The code read from the wire.
    pub fn from_u32(n: u32) -> Self {
        match n {
            0 => StatusCode::Ok,
            1 => StatusCode::Eof,
            2 => StatusCode::NoSuchFile,
            3 => StatusCode::PermissionDenied,
            4 => StatusCode::Failure,
            5 => StatusCode::BadMessage,
            6 => StatusCode::NoConnection,
            7 => StatusCode::ConnectionLost,
            8 => StatusCode::OpUnsupported,
            n => StatusCode::Other(n),
        }
    }

    /// The default message for the code (what OpenSSH's sftp-server sends).
    pub fn default_message(self) -> &'static str {
        match self {
            StatusCode::Ok => "Success",
            StatusCode::Eof => "End of file",
            StatusCode::NoSuchFile => "No such file",
            StatusCode::PermissionDenied => "Permission denied",
            StatusCode::Failure => "Failure",
            StatusCode::BadMessage => "Bad message",
            StatusCode::NoConnection => "No connection",
            StatusCode::ConnectionLost => "Connection lost",
            StatusCode::OpUnsupported => "Operation unsupported",
            StatusCode::Other(_) => "Unknown error",
        }
    }
}

/// A request's failure as the server reported it: an SSH_FXP_STATUS other
/// than `SSH_FX_OK`, with the server's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct StatusError {
    /// What failed, by cause.
    pub code: StatusCode,
    /// The server's human-readable message.
    pub message: String,
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.code.default_message())
        } else {
            f.write_str(&self.message)
        }
    }
}

impl StatusError {
    /// An error with the code's default message.
    pub fn new(code: StatusCode) -> Self {
        StatusError {
            code,
            message: code.default_message().to_string(),
        }
    }

    /// An error with a message of its own.
    pub fn with_message(code: StatusCode, message: impl Into<String>) -> Self {
        StatusError {
            code,
            message: message.into(),
        }
    }

    /// The `std::io::ErrorKind` closest to the code.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self.code {
            StatusCode::Eof => io::ErrorKind::UnexpectedEof,
            StatusCode::NoSuchFile => io::ErrorKind::NotFound,
            StatusCode::PermissionDenied => io::ErrorKind::PermissionDenied,
            StatusCode::BadMessage => io::ErrorKind::InvalidData,
            StatusCode::NoConnection | StatusCode::ConnectionLost => {
                io::ErrorKind::ConnectionAborted
            }
            StatusCode::OpUnsupported => io::ErrorKind::Unsupported,
            StatusCode::Ok | StatusCode::Failure | StatusCode::Other(_) => io::ErrorKind::Other,
        }
    }
}

impl From<StatusError> for io::Error {
    fn from(e: StatusError) -> Self {
        io::Error::new(e.io_kind(), e)
    }
}

/// Maps a local file system error to the status a server answers, as
/// OpenSSH's sftp-server maps errno (`errno_to_portable`): not found and
/// not a directory to NO_SUCH_FILE, access to PERMISSION_DENIED, the rest
/// to FAILURE with the system's message.
impl From<io::Error> for StatusError {
    fn from(e: io::Error) -> Self {
        let code = match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => StatusCode::NoSuchFile,
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StatusCode::PermissionDenied
            }
            io::ErrorKind::InvalidInput => StatusCode::BadMessage,
            io::ErrorKind::Unsupported => StatusCode::OpUnsupported,
            _ => StatusCode::Failure,
        };
        // The system's text without Rust's " (os error N)" suffix, which
        // means nothing to the client.
        let mut message = e.to_string();
        if let Some(i) = message.rfind(" (os error ") {
            message.truncate(i);
        }
        StatusError::with_message(code, message)
    }
}

/// How a peer broke the SFTP protocol. The session cannot go on after one:
/// the packet stream is no longer trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A packet announced a length over the limit (checked before any of it
    /// is buffered).
    #[error("SFTP packet of {len} bytes exceeds the limit of {max}")]
    PacketTooLong {
        /// The announced length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A field ran past the end of its packet.
    #[error("truncated SFTP packet: {what}")]
    Truncated {
        /// The field.
        what: &'static str,
    },
    /// A packet had bytes after its last field.
    #[error("trailing bytes after SFTP {what}")]
    TrailingBytes {
        /// The packet.
        what: &'static str,
    },
    /// A packet type this role does not receive.
    #[error("unexpected SFTP packet type {0}")]
    UnexpectedPacket(u8),
    /// The first packet was not the version exchange, or it came twice.
    #[error("SFTP version exchange out of order")]
    VersionOrder,
    /// The peer speaks a version before 3.
    #[error("SFTP version {0} is not supported (3 is needed)")]
    UnsupportedVersion(u32),
    /// A reply's id matches no request in flight.
    #[error("SFTP reply to unknown request id {0}")]
    UnknownRequestId(u32),
    /// A reply of a type the request cannot have (a HANDLE for a READ...).
    #[error("SFTP reply of type {kind} does not answer request {id}")]
    MismatchedReply {
        /// The request id.
        id: u32,
        /// The reply's packet type.
        kind: u8,
    },
    /// A reply to an extension request did not parse as that extension's.
    #[error("malformed reply to extension {0}")]
    BadExtensionReply(&'static str),
    /// The session was already ended by an earlier error.
    #[error("SFTP session already failed")]
    Failed,
}
