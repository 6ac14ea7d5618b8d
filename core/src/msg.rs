//! SSH message numbers (RFC 4250 section 4.1, RFC 4253, RFC 4252, RFC 4254,
//! RFC 4256, RFC 8308, RFC 8731).

// Transport layer generic (RFC 4253 section 12).
/// SSH_MSG_DISCONNECT.
pub const DISCONNECT: u8 = 1;
/// SSH_MSG_IGNORE.
pub const IGNORE: u8 = 2;
/// SSH_MSG_UNIMPLEMENTED.
pub const UNIMPLEMENTED: u8 = 3;
/// SSH_MSG_DEBUG.
pub const DEBUG: u8 = 4;
/// SSH_MSG_SERVICE_REQUEST.
pub const SERVICE_REQUEST: u8 = 5;
/// SSH_MSG_SERVICE_ACCEPT.
pub const SERVICE_ACCEPT: u8 = 6;
/// RFC 8308 section 2.3.
pub const EXT_INFO: u8 = 7;

// Algorithm negotiation (RFC 4253 section 12).
/// SSH_MSG_KEXINIT.
pub const KEXINIT: u8 = 20;
/// SSH_MSG_NEWKEYS.
pub const NEWKEYS: u8 = 21;

// Key-exchange-method specific, 30..=49: ECDH / curve25519 (RFC 5656 section 7.1, RFC 8731).
/// SSH_MSG_KEX_ECDH_INIT.
pub const KEX_ECDH_INIT: u8 = 30;
/// SSH_MSG_KEX_ECDH_REPLY.
pub const KEX_ECDH_REPLY: u8 = 31;
// The same numbers for Diffie-Hellman group exchange (RFC 4419 section 5);
// which meaning applies follows from the negotiated method. The fixed-group
// DH methods use 30/31 as KEXDH_INIT/KEXDH_REPLY (RFC 4253 section 8).
/// SSH_MSG_KEX_DH_GEX_GROUP.
pub const KEX_DH_GEX_GROUP: u8 = 31;
/// SSH_MSG_KEX_DH_GEX_INIT.
pub const KEX_DH_GEX_INIT: u8 = 32;
/// SSH_MSG_KEX_DH_GEX_REPLY.
pub const KEX_DH_GEX_REPLY: u8 = 33;
/// SSH_MSG_KEX_DH_GEX_REQUEST.
pub const KEX_DH_GEX_REQUEST: u8 = 34;

// User authentication generic (RFC 4252 section 6).
/// SSH_MSG_USERAUTH_REQUEST.
pub const USERAUTH_REQUEST: u8 = 50;
/// SSH_MSG_USERAUTH_FAILURE.
pub const USERAUTH_FAILURE: u8 = 51;
/// SSH_MSG_USERAUTH_SUCCESS.
pub const USERAUTH_SUCCESS: u8 = 52;
/// SSH_MSG_USERAUTH_BANNER.
pub const USERAUTH_BANNER: u8 = 53;
// Method specific, 60..=79. The same number means different things per method.
/// publickey (RFC 4252 section 7).
pub const USERAUTH_PK_OK: u8 = 60;
/// password (RFC 4252 section 8).
pub const USERAUTH_PASSWD_CHANGEREQ: u8 = 60;
/// keyboard-interactive (RFC 4256 section 3.2).
pub const USERAUTH_INFO_REQUEST: u8 = 60;
/// keyboard-interactive (RFC 4256 section 3.4).
pub const USERAUTH_INFO_RESPONSE: u8 = 61;

// Connection protocol (RFC 4254 section 9).
/// SSH_MSG_GLOBAL_REQUEST.
pub const GLOBAL_REQUEST: u8 = 80;
/// SSH_MSG_REQUEST_SUCCESS.
pub const REQUEST_SUCCESS: u8 = 81;
/// SSH_MSG_REQUEST_FAILURE.
pub const REQUEST_FAILURE: u8 = 82;
/// SSH_MSG_CHANNEL_OPEN.
pub const CHANNEL_OPEN: u8 = 90;
/// SSH_MSG_CHANNEL_OPEN_CONFIRMATION.
pub const CHANNEL_OPEN_CONFIRMATION: u8 = 91;
/// SSH_MSG_CHANNEL_OPEN_FAILURE.
pub const CHANNEL_OPEN_FAILURE: u8 = 92;
/// SSH_MSG_CHANNEL_WINDOW_ADJUST.
pub const CHANNEL_WINDOW_ADJUST: u8 = 93;
/// SSH_MSG_CHANNEL_DATA.
pub const CHANNEL_DATA: u8 = 94;
/// SSH_MSG_CHANNEL_EXTENDED_DATA.
pub const CHANNEL_EXTENDED_DATA: u8 = 95;
/// SSH_MSG_CHANNEL_EOF.
pub const CHANNEL_EOF: u8 = 96;
/// SSH_MSG_CHANNEL_CLOSE.
pub const CHANNEL_CLOSE: u8 = 97;
/// SSH_MSG_CHANNEL_REQUEST.
pub const CHANNEL_REQUEST: u8 = 98;
/// SSH_MSG_CHANNEL_SUCCESS.
pub const CHANNEL_SUCCESS: u8 = 99;
/// SSH_MSG_CHANNEL_FAILURE.
pub const CHANNEL_FAILURE: u8 = 100;

/// Which layer a message number belongs to (RFC 4250 section 4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// 1..=19: transport generic.
    TransportGeneric,
    /// 20..=29 algorithm negotiation, 30..=49 key-exchange specific.
    KeyExchange,
    /// 50..=79.
    UserAuth,
    /// 80..=127.
    Connection,
    /// 0 and 128..=255: reserved for clients / local extensions; we implement none.
    Reserved,
}

/// Classifies a message number by range.
pub fn layer(msg: u8) -> Layer {
    match msg {
        1..=19 => Layer::TransportGeneric,
        20..=49 => Layer::KeyExchange,
        50..=79 => Layer::UserAuth,
        80..=127 => Layer::Connection,
        _ => Layer::Reserved,
    }
}
