//! Key exchange and re-exchange (RFC 4253 sections 7-9), as typed phases.
//!
//! One exchange runs KEXINIT (section 7.1) → the method's own messages
//! (section 8, RFC 5656 section 4, RFC 8731, RFC 4419) → NEWKEYS (section
//! 7.3) in each direction; the first one also fixes the session identifier
//! (section 7.2) and, on a client, waits for the application to accept the
//! server's host key. Later ones (section 9) run the same way while the
//! outbox is held. [`Phase`] says where the exchange stands; each phase
//! holds exactly the data valid in it, and every transition consumes the
//! phase it leaves, so a half-finished combination (NEWKEYS without keys,
//! a host-key pause during a re-exchange, a rekey request in the middle of
//! an exchange) has no representation.
//!
//! The order of the phases follows from two choices of ours:
//!
//! - our KEXINIT always goes first: the first one right after the
//!   identification, a re-exchange's before we look at the peer's (which
//!   then answers it), so there is no "peer's KEXINIT only" phase;
//! - our NEWKEYS goes out as soon as the keys exist (the server after its
//!   reply, the client after the reply or, the first time, after the
//!   host-key decision), so the peer's NEWKEYS always comes second: one
//!   received while we have no keys is an error (section 7.3).
//!
//! Also here: strict key exchange (OpenSSH PROTOCOL section 1.10,
//! "kex-strict-*-v00@openssh.com": sequence numbers restart at every
//! NEWKEYS, and nothing but key exchange messages during the first
//! exchange), which both sides signal in their first KEXINIT, and EXT_INFO
//! (RFC 8308), which the server sends after its first NEWKEYS.
//!
//! Files, one concept each:
//! - `kexinit`: KEXINIT, the markers, and algorithm negotiation (section 7.1);
//! - `transitions`: KEXINIT in and out, the host-key decision, NEWKEYS in
//!   and out, the end of an exchange;
//! - `method`: the method's messages 30..=49 (single round trip methods and
//!   RFC 4419 group exchange);
//! - `keys`: the session keys from K and H (section 7.2);
//! - `ext_info`: EXT_INFO (RFC 8308).

mod ext_info;
pub(super) mod kexinit;
mod keys;
mod method;
mod transitions;

use std::time::Instant;

use bytes::Bytes;

use crate::crypto::{GroupExchange, GroupRequest, KexEphemeral, PacketOpener, PacketSealer};
use crate::kex::DhGroup;

use kexinit::Negotiated;

/// Whether an exchange is the connection's first (RFC 4253 section 7.2: it
/// fixes the session identifier) or a re-exchange (section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    /// The first exchange.
    Initial,
    /// Any later one.
    Rekey,
}

/// Where the key exchange stands.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Our first KEXINIT has not gone out: it waits for the first call that
    /// brings an RNG, for its cookie.
    Start,
    /// Our KEXINIT is out; the peer's has not arrived (section 7.1).
    KexInitSent(KexInitSent),
    /// Both KEXINITs are through: the method's messages run.
    Method(Method),
    /// Client, first exchange: the server proved its host key. Nothing,
    /// not even NEWKEYS, goes out and no input is processed until the
    /// application accepts the key.
    HostKeyPause(HostKeyPause),
    /// Our NEWKEYS is out (what we send uses the new keys); the peer's is
    /// awaited.
    NewKeysSent(NewKeysSent),
    /// No exchange runs; the first one is complete.
    Idle(Idle),
    /// A transition failed halfway. The error is fatal: the connection
    /// sends DISCONNECT and processes nothing more.
    Failed,
}

/// Our KEXINIT is out.
#[derive(Debug)]
pub(crate) struct KexInitSent {
    round: Round,
    /// Our KEXINIT payload (I_C or I_S), hashed into H.
    our_kexinit: Vec<u8>,
}

/// What both KEXINITs fixed for one exchange.
#[derive(Debug)]
pub(crate) struct Agreed {
    round: Round,
    our_kexinit: Vec<u8>,
    /// The peer's KEXINIT payload, hashed into H.
    peer_kexinit: Bytes,
    negotiated: Negotiated,
}

/// The method's messages are running.
#[derive(Debug)]
pub(crate) struct Method {
    agreed: Agreed,
    /// The peer guessed its first kex packet wrongly: the next method
    /// message is dropped (section 7.1, `first_kex_packet_follows`).
    skip_guessed_packet: bool,
    step: MethodStep,
}

/// The group of an RFC 4419 exchange: the sizes the client asked for, as
/// sent (they are hashed), and the group chosen for them.
#[derive(Debug)]
pub(crate) struct ChosenGroup {
    request: GroupRequest,
    group: DhGroup,
}

/// Which method message is awaited (the variant names it), with what
/// that step needs.
#[derive(Debug)]
pub(crate) enum MethodStep {
    /// Server, single round trip (RFC 5656 section 4, RFC 8731, RFC 4253
    /// section 8): the client's public value (30).
    Init,
    /// Client, single round trip: our INIT is out; the server's REPLY (31).
    Reply { ephemeral: Box<dyn KexEphemeral> },
    /// Server, RFC 4419 section 3: the client's GEX_REQUEST (34).
    GroupRequest { gex: &'static dyn GroupExchange },
    /// Client, RFC 4419: our request is out; the server's GEX_GROUP (31).
    Group {
        gex: &'static dyn GroupExchange,
        request: GroupRequest,
    },
    /// Server, RFC 4419: the group is out; the client's GEX_INIT (32).
    GroupInit { group: ChosenGroup },
    /// Client, RFC 4419: our GEX_INIT is out; the server's GEX_REPLY (33).
    GroupReply {
        group: ChosenGroup,
        ephemeral: Box<dyn KexEphemeral>,
    },
}

/// Both directions' new packet ciphers (section 7.2), each waiting for the
/// NEWKEYS of its direction.
#[derive(Debug)]
pub(crate) struct NewKeys {
    sealer: Box<dyn PacketSealer>,
    opener: Box<dyn PacketOpener>,
}

/// Client, first exchange: the keys wait for the host-key decision.
#[derive(Debug)]
pub(crate) struct HostKeyPause {
    negotiated: Negotiated,
    keys: NewKeys,
}

/// Our NEWKEYS is out.
#[derive(Debug)]
pub(crate) struct NewKeysSent {
    round: Round,
    negotiated: Negotiated,
    /// The peer's new keys, from its NEWKEYS on.
    opener: Box<dyn PacketOpener>,
}

/// Between exchanges.
#[derive(Debug)]
pub(crate) struct Idle {
    /// When the last exchange ended (the time-based rekey counts from it).
    since: Instant,
    /// A re-exchange is due (asked for, or by bytes or time): our KEXINIT
    /// goes out at the next flush, after the queued messages (section 9).
    rekey_due: bool,
}

impl Phase {
    /// Takes the phase out for a transition, leaving [`Phase::Failed`]
    /// until the transition puts the next one in.
    fn take(&mut self) -> Phase {
        std::mem::replace(self, Phase::Failed)
    }

    /// The first exchange is complete in both directions (and, on a
    /// client, the host key was accepted, which came before our NEWKEYS).
    pub(crate) fn first_done(&self) -> bool {
        match self {
            Phase::Idle(_) => true,
            Phase::KexInitSent(s) => s.round == Round::Rekey,
            Phase::Method(m) => m.agreed.round == Round::Rekey,
            Phase::NewKeysSent(s) => s.round == Round::Rekey,
            Phase::Start | Phase::HostKeyPause(_) | Phase::Failed => false,
        }
    }

    /// An exchange runs (from our KEXINIT until both NEWKEYS).
    pub(crate) fn in_progress(&self) -> bool {
        !matches!(self, Phase::Start | Phase::Idle(_) | Phase::Failed)
    }

    /// Our NEWKEYS of the last exchange went out and no KEXINIT of ours
    /// since: upper-layer messages may be sent (section 7.1).
    pub(crate) fn may_send_upper(&self) -> bool {
        matches!(self, Phase::NewKeysSent(_) | Phase::Idle(_))
    }

    /// The peer's KEXINIT arrived and its NEWKEYS has not: section 7.1
    /// allows it only transport and key exchange messages meanwhile.
    pub(crate) fn peer_in_exchange(&self) -> bool {
        matches!(
            self,
            Phase::Method(_) | Phase::HostKeyPause(_) | Phase::NewKeysSent(_)
        )
    }

    /// The client waits for the application's host-key decision.
    pub(crate) fn awaiting_host_key(&self) -> bool {
        matches!(self, Phase::HostKeyPause(_))
    }

    /// Between exchanges: asks for a re-exchange at the next flush. A
    /// running exchange needs none: the bytes it ends with are counted
    /// again when it ends.
    pub(crate) fn request_rekey(&mut self) {
        if let Phase::Idle(idle) = self {
            idle.rekey_due = true;
        }
    }

    /// Between exchanges with a re-exchange due.
    pub(crate) fn rekey_due(&self) -> bool {
        matches!(
            self,
            Phase::Idle(Idle {
                rekey_due: true,
                ..
            })
        )
    }

    /// Between exchanges with none due: when the last one ended.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        match self {
            Phase::Idle(Idle {
                since,
                rekey_due: false,
            }) => Some(*since),
            _ => None,
        }
    }

    /// Tests: our KEXINIT as we will hash it, while one is running.
    #[cfg(test)]
    pub(crate) fn our_kexinit_mut(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            Phase::KexInitSent(s) => Some(&mut s.our_kexinit),
            Phase::Method(m) => Some(&mut m.agreed.our_kexinit),
            _ => None,
        }
    }
}

/// What the peer's first KEXINIT signalled, fixed for the connection.
/// Before it arrives neither applies, which is what the default says.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Signals {
    /// Strict key exchange: both sides offered it (OpenSSH PROTOCOL 1.10).
    pub(crate) strict: bool,
    /// Server: the client offered `ext-info-c` (RFC 8308 section 2.1), so
    /// EXT_INFO follows our first NEWKEYS.
    pub(crate) peer_wants_ext_info: bool,
}
