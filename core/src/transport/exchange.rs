//! One key exchange, from KEXINIT to both NEWKEYS (RFC 4253 sections 7-9),
//! with the single round trip methods of RFC 5656 section 4 / RFC 8731, the
//! strict kex rules (OpenSSH PROTOCOL) and EXT_INFO (RFC 8308).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use rand_core::CryptoRngCore;

use crate::crypto::{
    CipherAlgorithm, KexEphemeral, MacAlgorithm, PacketOpener, PacketSealer, SharedSecret,
};
use crate::error::{Error, PeerMisbehaved};
use crate::event::Event;
use crate::kex::derive_key;
use crate::msg;
use crate::wire::{Encode, Reader};

use super::kexinit::{self, KexInitLists, Negotiated};
use super::{Side, Transport};

/// Most `server-sig-algs` names kept from EXT_INFO.
pub(super) const MAX_SERVER_SIG_ALGS: usize = 64;

/// The state of the key exchange in progress.
#[derive(Debug)]
pub(crate) struct KexRun {
    /// Whether this is the first exchange of the connection.
    pub(super) initial: bool,
    /// Our KEXINIT payload (I_C or I_S).
    pub(super) our_kexinit: Vec<u8>,
    /// The peer's KEXINIT payload, once received.
    pub(super) peer_kexinit: Option<Bytes>,
    pub(super) negotiated: Option<Negotiated>,
    /// Client: our ephemeral key, from our KEX_ECDH_INIT to the reply.
    pub(super) ephemeral: Option<Box<dyn KexEphemeral>>,
    /// Server: the reply went out.
    pub(super) replied: bool,
    /// Group exchange (RFC 4419): the request and, once known, the group.
    pub(super) group_exchange: Option<super::kex_method::GroupExchangeState>,
    /// The peer guessed its first kex packet wrongly: drop it (RFC 4253
    /// section 7.1, `first_kex_packet_follows`).
    pub(super) skip_guessed_packet: bool,
    /// New keys, waiting for the NEWKEYS of their direction.
    outgoing: Option<Box<dyn PacketSealer>>,
    incoming: Option<Box<dyn PacketOpener>>,
    /// Client, first exchange: the host key awaits the application.
    pub(super) awaiting_host_key: bool,
    newkeys_sent: bool,
    newkeys_received: bool,
}

impl KexRun {
    /// Whether our NEWKEYS went out, so upper-layer messages may follow.
    pub(crate) fn newkeys_sent(&self) -> bool {
        self.newkeys_sent
    }
}

/// Keys for one direction (RFC 4253 section 7.2).
struct DirectionKeys {
    iv: zeroize::Zeroizing<Vec<u8>>,
    key: zeroize::Zeroizing<Vec<u8>>,
    mac: Option<Box<dyn crate::crypto::MacKey>>,
}

pub(super) fn unexpected(msg: u8, state: &'static str) -> Error {
    PeerMisbehaved::UnexpectedMessage { msg, state }.into()
}

impl Transport {
    /// Whether the client waits for the application's host key decision.
    pub(super) fn awaiting_host_key(&self) -> bool {
        self.kex.as_ref().is_some_and(|k| k.awaiting_host_key)
    }

    /// Sends our KEXINIT and opens a key exchange.
    pub(super) fn send_kexinit(&mut self, rng: &mut dyn CryptoRngCore) {
        let initial = !self.kexinit_sent;
        let payload = self
            .offer
            .kexinit(self.side, initial, self.config.strict_kex, rng);
        self.tx.send(&payload, Some(rng));
        self.kexinit_sent = true;
        self.rekey_pending = false;
        self.kex = Some(Box::new(KexRun {
            initial,
            our_kexinit: payload,
            peer_kexinit: None,
            negotiated: None,
            ephemeral: None,
            replied: false,
            group_exchange: None,
            skip_guessed_packet: false,
            outgoing: None,
            incoming: None,
            awaiting_host_key: false,
            newkeys_sent: false,
            newkeys_received: false,
        }));
    }

    /// The peer's KEXINIT: answer it if the peer started, then negotiate.
    pub(super) fn on_kexinit(
        &mut self,
        seq: u32,
        payload: Bytes,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), Error> {
        if self.kex.is_none() {
            // RFC 4253 section 9: the peer started a re-exchange.
            self.send_kexinit(rng);
        }
        let Some(mut run) = self.kex.take() else {
            return Err(unexpected(msg::KEXINIT, "no key exchange"));
        };
        if run.peer_kexinit.is_some() {
            return Err(unexpected(msg::KEXINIT, "key exchange in progress"));
        }
        let theirs = KexInitLists::parse(&payload)?;
        if run.initial {
            let strict_marker = match self.side {
                Side::Client => kexinit::KEX_STRICT_S,
                Side::Server => kexinit::KEX_STRICT_C,
            };
            self.strict_kex = self.config.strict_kex && theirs.contains_kex(strict_marker);
            // OpenSSH PROTOCOL, strict kex: KEXINIT must be the first packet.
            if self.strict_kex && seq != 0 {
                return Err(PeerMisbehaved::StrictKexViolation(msg::KEXINIT).into());
            }
            self.peer_wants_ext_info =
                self.side == Side::Server && theirs.contains_kex(kexinit::EXT_INFO_C);
        }
        let ours = KexInitLists::parse(&run.our_kexinit)?;
        let (client, server) = match self.side {
            Side::Client => (&ours, &theirs),
            Side::Server => (&theirs, &ours),
        };
        let negotiated = kexinit::negotiate(self.side, client, server, &self.config.crypto)?;
        if theirs.first_kex_packet_follows && !kexinit::guess_is_right(&ours, &theirs) {
            run.skip_guessed_packet = true;
        }
        if self.side == Side::Client {
            self.start_kex_method(&mut run, &negotiated, rng);
        }
        run.peer_kexinit = Some(payload);
        run.negotiated = Some(negotiated);
        self.kex = Some(run);
        Ok(())
    }

    /// Client: the host key was accepted; finish our half of the exchange.
    pub(super) fn continue_after_host_key(&mut self, rng: &mut dyn CryptoRngCore) {
        if let Some(mut run) = self.kex.take() {
            run.awaiting_host_key = false;
            self.send_newkeys(&mut run, Some(rng));
            self.kex = Some(run);
        }
    }

    /// Computes H's keys for both directions (RFC 4253 section 7.2) and
    /// keeps them until the NEWKEYS of their direction.
    pub(super) fn install_keys(
        &mut self,
        run: &mut KexRun,
        n: &Negotiated,
        k: &SharedSecret,
        h: Vec<u8>,
    ) {
        let session_id = self.session_id.get_or_insert(h.clone()).clone();
        let derive = |cipher: &'static dyn CipherAlgorithm,
                      mac: Option<&'static dyn MacAlgorithm>,
                      letters: [u8; 3]| {
            let hash = n.kex.hash();
            let d = |letter, len| derive_key(hash, k.encoded(), &h, letter, &session_id, len);
            DirectionKeys {
                iv: d(letters[0], cipher.iv_len()),
                key: d(letters[1], cipher.key_len()),
                mac: mac.map(|m| m.key(&d(letters[2], m.key_len()))),
            }
        };
        let c2s = derive(n.cipher_c2s, n.mac_c2s, *b"ACE");
        let s2c = derive(n.cipher_s2c, n.mac_s2c, *b"BDF");
        let (out_cipher, out_keys, in_cipher, in_keys) = match self.side {
            Side::Client => (n.cipher_c2s, c2s, n.cipher_s2c, s2c),
            Side::Server => (n.cipher_s2c, s2c, n.cipher_c2s, c2s),
        };
        run.outgoing = Some(out_cipher.sealer(&out_keys.key, &out_keys.iv, out_keys.mac));
        run.incoming = Some(in_cipher.opener(&in_keys.key, &in_keys.iv, in_keys.mac));
    }

    /// SSH_MSG_NEWKEYS out, and the new keys for everything after it.
    pub(super) fn send_newkeys(&mut self, run: &mut KexRun, rng: Option<&mut dyn CryptoRngCore>) {
        self.tx.send(&[msg::NEWKEYS], rng);
        if let Some(sealer) = run.outgoing.take() {
            self.tx.set_sealer(sealer);
        }
        if self.strict_kex {
            // OpenSSH PROTOCOL, strict kex: sequence numbers restart after
            // every NEWKEYS.
            self.tx.seq = 0;
        }
        run.newkeys_sent = true;
        self.newkeys_sent_once = true;
    }

    /// SSH_MSG_NEWKEYS in: the peer's new keys apply from the next packet.
    pub(super) fn on_newkeys(
        &mut self,
        now: Instant,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let Some(run) = self.kex.as_mut() else {
            return Err(unexpected(msg::NEWKEYS, "no key exchange in progress"));
        };
        let Some(opener) = run.incoming.take() else {
            return Err(unexpected(msg::NEWKEYS, "before the key exchange reply"));
        };
        run.newkeys_received = true;
        self.rx.set_opener(opener);
        if self.strict_kex {
            self.rx.seq = 0;
        }
        self.newkeys_received_once = true;
        if run.newkeys_sent {
            self.finish_kex(now, events);
        }
        Ok(())
    }

    /// Both NEWKEYS are through: the exchange is over.
    fn finish_kex(&mut self, now: Instant, events: &mut VecDeque<Event>) {
        let Some(run) = self.kex.take() else { return };
        if let Some(n) = &run.negotiated {
            events.push_back(Event::KeyExchangeDone {
                algorithms: n.names(self.strict_kex),
                rekey: !run.initial,
            });
        }
        if run.initial {
            self.first_kex_done = true;
        }
        self.last_kex_done_at = now;
        // A limit reached during this exchange under the old keys is moot;
        // one reached under the new keys (both counters restarted at the
        // NEWKEYS) calls for the next exchange.
        self.rekey_pending = self.rekey_due_by_bytes();
    }

    /// Server: SSH_MSG_EXT_INFO right after our first NEWKEYS (RFC 8308
    /// section 2.4) with the signature algorithms we verify in user auth.
    pub(super) fn send_ext_info(&mut self, rng: &mut dyn CryptoRngCore) {
        // What user authentication accepts: every key type's signature
        // algorithms but the legacy SHA-1 `ssh-rsa`, which it never accepts.
        let names: Vec<&str> = self
            .config
            .crypto
            .signature
            .iter()
            .map(|a| a.name())
            .filter(|n| !crate::crypto::is_legacy(n))
            .collect();
        let mut p = Vec::with_capacity(64);
        p.put_u8(msg::EXT_INFO);
        p.put_u32(1);
        p.put_str("server-sig-algs");
        p.put_name_list(&names);
        self.tx.send(&p, Some(rng));
    }

    /// SSH_MSG_EXT_INFO in (RFC 8308 section 2.3). A client keeps
    /// `server-sig-algs`; a later EXT_INFO (before USERAUTH_SUCCESS,
    /// section 2.4) replaces it. A server has no use for the client's.
    pub(super) fn on_ext_info(&mut self, payload: &[u8]) -> Result<(), Error> {
        if !self.newkeys_received_once {
            return Err(unexpected(msg::EXT_INFO, "before the first key exchange"));
        }
        if self.side == Side::Server {
            return Ok(());
        }
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let count = r.u32()?;
        for _ in 0..count {
            let name = r.string()?;
            let value = r.string()?;
            if name == b"server-sig-algs" {
                // Lenient: skip empty or non-ASCII names rather than fail.
                let algs = value
                    .split(|&b| b == b',')
                    .filter(|n| !n.is_empty() && n.is_ascii())
                    .take(MAX_SERVER_SIG_ALGS)
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect();
                self.server_sig_algs = Some(algs);
            }
        }
        Ok(())
    }
}
