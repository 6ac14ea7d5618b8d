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
use crate::error::{ApiMisuse, Error, PeerIncompatible, PeerMisbehaved};
use crate::event::Event;
use crate::kex::{derive_key, exchange_hash, ExchangeHashInput};
use crate::keys::PublicKey;
use crate::msg;
use crate::wire::{DecodeError, Encode, Reader};

use super::kexinit::{self, KexInitLists, Negotiated};
use super::{Side, Transport};

/// Most `server-sig-algs` names kept from EXT_INFO.
const MAX_SERVER_SIG_ALGS: usize = 64;

/// The state of the key exchange in progress.
#[derive(Debug)]
pub(crate) struct KexRun {
    /// Whether this is the first exchange of the connection.
    initial: bool,
    /// Our KEXINIT payload (I_C or I_S).
    pub(super) our_kexinit: Vec<u8>,
    /// The peer's KEXINIT payload, once received.
    peer_kexinit: Option<Bytes>,
    negotiated: Option<Negotiated>,
    /// Client: our ephemeral key, from our KEX_ECDH_INIT to the reply.
    ephemeral: Option<Box<dyn KexEphemeral>>,
    /// Server: the reply went out.
    replied: bool,
    /// The peer guessed its first kex packet wrongly: drop it (RFC 4253
    /// section 7.1, `first_kex_packet_follows`).
    skip_guessed_packet: bool,
    /// New keys, waiting for the NEWKEYS of their direction.
    outgoing: Option<Box<dyn PacketSealer>>,
    incoming: Option<Box<dyn PacketOpener>>,
    /// Client, first exchange: the host key awaits the application.
    awaiting_host_key: bool,
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

fn unexpected(msg: u8, state: &'static str) -> Error {
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
            // RFC 5656 section 4 / RFC 8731 section 3: the client starts.
            let ephemeral = negotiated.kex.start(rng);
            let mut p = Vec::with_capacity(64);
            p.put_u8(msg::KEX_ECDH_INIT);
            p.put_string(ephemeral.public_value());
            self.tx.send(&p, Some(rng));
            run.ephemeral = Some(ephemeral);
        }
        run.peer_kexinit = Some(payload);
        run.negotiated = Some(negotiated);
        self.kex = Some(run);
        Ok(())
    }

    /// Messages 30..=49, whose meaning belongs to the kex method.
    pub(super) fn on_kex_method_message(
        &mut self,
        seq: u32,
        payload: Bytes,
        rng: &mut dyn CryptoRngCore,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let msg_no = payload.first().copied().unwrap_or(0);
        let known = matches!(msg_no, msg::KEX_ECDH_INIT | msg::KEX_ECDH_REPLY);
        let Some(mut run) = self.kex.take() else {
            if known {
                return Err(unexpected(msg_no, "no key exchange in progress"));
            }
            self.send_unimplemented(seq);
            return Ok(());
        };
        let result = if run.negotiated.is_none() {
            Err(unexpected(msg_no, "before KEXINIT"))
        } else if run.skip_guessed_packet {
            run.skip_guessed_packet = false;
            Ok(())
        } else {
            match (self.side, msg_no) {
                (Side::Server, msg::KEX_ECDH_INIT) if !run.replied => {
                    self.on_ecdh_init(&mut run, &payload, rng)
                }
                (Side::Client, msg::KEX_ECDH_REPLY) if run.ephemeral.is_some() => {
                    self.on_ecdh_reply(&mut run, &payload, rng, events)
                }
                _ if known => Err(unexpected(msg_no, "in this key exchange state")),
                _ => {
                    self.send_unimplemented(seq);
                    Ok(())
                }
            }
        };
        self.kex = Some(run);
        result
    }

    /// Server: SSH_MSG_KEX_ECDH_INIT (RFC 5656 section 4).
    fn on_ecdh_init(
        &mut self,
        run: &mut KexRun,
        payload: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), Error> {
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let client_public = r.string()?;
        r.end()?;
        let Some(n) = run.negotiated.clone() else {
            return Err(unexpected(msg::KEX_ECDH_INIT, "before KEXINIT"));
        };
        let host_key = self
            .host_keys
            .iter()
            .find(|k| n.host_key.supports_key(k.public_key()))
            .ok_or_else(|| PeerIncompatible::NoCommonAlgorithm {
                kind: "host key",
                ours: self.offer.host_key.join(","),
                theirs: n.host_key.name().to_string(),
            })?;
        let ephemeral = n.kex.start(rng);
        let server_public = ephemeral.public_value().to_vec();
        let k = ephemeral
            .agree(client_public)
            .map_err(|_| PeerMisbehaved::BadKexValue)?;
        let h = exchange_hash(
            n.kex.hash(),
            &ExchangeHashInput {
                client_ident: self.peer_ident.as_deref().unwrap_or_default(),
                server_ident: &self.our_ident,
                client_kexinit: run.peer_kexinit.as_deref().unwrap_or_default(),
                server_kexinit: &run.our_kexinit,
                host_key: host_key.public_key().blob(),
                client_public,
                server_public: &server_public,
                shared_secret: k.encoded(),
            },
        );
        let signature = n
            .host_key
            .sign(host_key, &h)
            .map_err(|_| ApiMisuse::InvalidArgument("the host key cannot sign"))?;
        let mut p = Vec::with_capacity(256);
        p.put_u8(msg::KEX_ECDH_REPLY);
        p.put_string(host_key.public_key().blob());
        p.put_string(&server_public);
        p.put_string(&signature);
        self.tx.send(&p, Some(rng));
        run.replied = true;
        self.install_keys(run, &n, &k, h);
        self.send_newkeys(run, Some(rng));
        if run.initial && self.peer_wants_ext_info {
            self.send_ext_info(rng);
        }
        Ok(())
    }

    /// Client: SSH_MSG_KEX_ECDH_REPLY (RFC 5656 section 4): check the
    /// server's proof of its host key, then ask the application (first
    /// exchange) or check the key is unchanged (re-exchange).
    fn on_ecdh_reply(
        &mut self,
        run: &mut KexRun,
        payload: &[u8],
        rng: &mut dyn CryptoRngCore,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let host_key_blob = r.string()?;
        let server_public = r.string()?;
        let signature = r.string()?;
        r.end()?;
        let (Some(n), Some(ephemeral)) = (run.negotiated.clone(), run.ephemeral.take()) else {
            return Err(unexpected(msg::KEX_ECDH_REPLY, "before KEX_ECDH_INIT"));
        };
        let host_key =
            PublicKey::from_blob(host_key_blob).map_err(|_| DecodeError { what: "host key" })?;
        if !n.host_key.supports_key(&host_key) {
            return Err(PeerMisbehaved::WrongHostKeyType(host_key.algorithm()).into());
        }
        let client_public = ephemeral.public_value().to_vec();
        let k = ephemeral
            .agree(server_public)
            .map_err(|_| PeerMisbehaved::BadKexValue)?;
        let h = exchange_hash(
            n.kex.hash(),
            &ExchangeHashInput {
                client_ident: &self.our_ident,
                server_ident: self.peer_ident.as_deref().unwrap_or_default(),
                client_kexinit: &run.our_kexinit,
                server_kexinit: run.peer_kexinit.as_deref().unwrap_or_default(),
                host_key: host_key_blob,
                client_public: &client_public,
                server_public,
                shared_secret: k.encoded(),
            },
        );
        if !n.host_key.verify(&host_key, &h, signature) {
            return Err(PeerMisbehaved::BadHostKeySignature.into());
        }
        if let Some(first) = &self.host_key {
            // The key was accepted once; a re-exchange must not swap it.
            if first.blob() != host_key.blob() {
                return Err(PeerMisbehaved::HostKeyChangedOnRekey.into());
            }
        }
        self.install_keys(run, &n, &k, h);
        if run.initial {
            self.host_key = Some(host_key.clone());
            events.push_back(Event::HostKey { key: host_key });
            // No NEWKEYS and no further processing until the application
            // decides (`accept_host_key`).
            run.awaiting_host_key = true;
        } else {
            self.send_newkeys(run, Some(rng));
        }
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
    fn install_keys(&mut self, run: &mut KexRun, n: &Negotiated, k: &SharedSecret, h: Vec<u8>) {
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
    fn send_newkeys(&mut self, run: &mut KexRun, rng: Option<&mut dyn CryptoRngCore>) {
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
    fn send_ext_info(&mut self, rng: &mut dyn CryptoRngCore) {
        let names: Vec<&str> = self
            .config
            .crypto
            .signature
            .iter()
            .map(|a| a.name())
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
