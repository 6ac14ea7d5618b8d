//! The transitions between exchanges and around the method: KEXINIT out
//! and in (RFC 4253 sections 7.1 and 9), the client's host-key decision,
//! NEWKEYS out and in (section 7.3), and the end of an exchange. Strict
//! kex (OpenSSH PROTOCOL 1.10) is decided at the peer's first KEXINIT and
//! restarts the sequence numbers at every NEWKEYS.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use rand_core::CryptoRng;

use crate::crypto::PacketSealer;
use crate::error::{Error, PeerMisbehaved};
use crate::event::Event;
use crate::msg;

use super::kexinit::{self, KexInitLists, Negotiated};
use super::{Agreed, Idle, KexInitSent, Method, NewKeysSent, Phase, Round, Signals};
use crate::transport::{compress, Side, Transport};

pub(super) fn unexpected(msg: u8, state: &'static str) -> Error {
    PeerMisbehaved::UnexpectedMessage { msg, state }.into()
}

impl Transport {
    /// Sends our KEXINIT and opens an exchange: the first one from
    /// [`Phase::Start`], a re-exchange otherwise (section 9).
    pub(in crate::transport) fn send_kexinit(&mut self, rng: &mut dyn CryptoRng) {
        let round = match self.kex {
            Phase::Start => Round::Initial,
            _ => Round::Rekey,
        };
        let payload = self.offer.kexinit(
            self.side,
            round == Round::Initial,
            self.config.strict_kex,
            rng,
        );
        self.tx.send(&payload, Some(rng));
        self.kex = Phase::KexInitSent(KexInitSent {
            round,
            our_kexinit: payload,
        });
    }

    /// The peer's KEXINIT: answer it if the peer started, then negotiate
    /// and start the method.
    pub(in crate::transport) fn on_kexinit(
        &mut self,
        seq: u32,
        payload: Bytes,
        rng: &mut dyn CryptoRng,
    ) -> Result<(), Error> {
        if matches!(self.kex, Phase::Idle(_)) {
            // Section 9: the peer started a re-exchange.
            self.send_kexinit(rng);
        }
        let sent = match self.kex.take() {
            Phase::KexInitSent(sent) => sent,
            other => {
                // Its KEXINIT of this exchange came already (section 7.1
                // allows one per exchange).
                self.kex = other;
                return Err(unexpected(msg::KEXINIT, "key exchange in progress"));
            }
        };
        let theirs = KexInitLists::parse(&payload)?;
        if sent.round == Round::Initial {
            let (strict_marker, ext_info) = match self.side {
                Side::Client => (kexinit::KEX_STRICT_S, false),
                Side::Server => (
                    kexinit::KEX_STRICT_C,
                    theirs.contains_kex(kexinit::EXT_INFO_C),
                ),
            };
            self.signals = Signals {
                strict: self.config.strict_kex && theirs.contains_kex(strict_marker),
                peer_wants_ext_info: ext_info,
            };
            // OpenSSH PROTOCOL 1.10: under strict kex, KEXINIT must be the
            // first packet.
            if self.signals.strict && seq != 0 {
                return Err(PeerMisbehaved::StrictKexViolation(msg::KEXINIT).into());
            }
        }
        let ours = KexInitLists::parse(&sent.our_kexinit)?;
        let (client, server) = match self.side {
            Side::Client => (&ours, &theirs),
            Side::Server => (&theirs, &ours),
        };
        let negotiated = kexinit::negotiate(self.side, client, server, &self.config.crypto)?;
        let skip_guessed_packet =
            theirs.first_kex_packet_follows && !kexinit::guess_is_right(&ours, &theirs);
        let step = self.start_method(&negotiated, rng);
        self.kex = Phase::Method(Method {
            agreed: Agreed {
                round: sent.round,
                our_kexinit: sent.our_kexinit,
                peer_kexinit: payload,
                negotiated,
            },
            skip_guessed_packet,
            step,
        });
        Ok(())
    }

    /// Client: the host key was accepted; our NEWKEYS goes out. Nothing
    /// happens when no decision is awaited.
    pub(in crate::transport) fn continue_after_host_key(&mut self, rng: &mut dyn CryptoRng) {
        let pause = match self.kex.take() {
            Phase::HostKeyPause(pause) => pause,
            other => {
                self.kex = other;
                return;
            }
        };
        self.send_newkeys(pause.keys.sealer, &pause.negotiated, Some(rng));
        self.kex = Phase::NewKeysSent(NewKeysSent {
            round: Round::Initial,
            negotiated: pause.negotiated,
            opener: pause.keys.opener,
        });
    }

    /// SSH_MSG_NEWKEYS out, and the new keys for everything after it, with
    /// a fresh compression context (RFC 4253 section 6.2).
    pub(super) fn send_newkeys(
        &mut self,
        sealer: Box<dyn PacketSealer>,
        negotiated: &Negotiated,
        rng: Option<&mut dyn CryptoRng>,
    ) {
        self.tx.send(&[msg::NEWKEYS], rng);
        self.tx.set_sealer(sealer);
        let method = match self.side {
            Side::Client => negotiated.compression_c2s,
            Side::Server => negotiated.compression_s2c,
        };
        self.tx.deflate = compress::State::at_newkeys(method, self.authenticated);
        if self.signals.strict {
            // OpenSSH PROTOCOL 1.10: sequence numbers restart after every
            // NEWKEYS.
            self.tx.seq = 0;
        }
    }

    /// SSH_MSG_NEWKEYS in: the peer's new keys apply from the next packet,
    /// and the exchange is over (ours went out first).
    pub(in crate::transport) fn on_newkeys(
        &mut self,
        now: Instant,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let sent = match self.kex.take() {
            Phase::NewKeysSent(sent) => sent,
            other => {
                let state = match other {
                    Phase::Start | Phase::Idle(_) => "no key exchange in progress",
                    _ => "before the key exchange reply",
                };
                self.kex = other;
                return Err(unexpected(msg::NEWKEYS, state));
            }
        };
        self.rx.set_opener(sent.opener);
        let method = match self.side {
            Side::Client => sent.negotiated.compression_s2c,
            Side::Server => sent.negotiated.compression_c2s,
        };
        self.rx.inflate = compress::State::at_newkeys(method, self.authenticated);
        if self.signals.strict {
            self.rx.seq = 0;
        }
        events.push_back(Event::KeyExchangeDone {
            algorithms: sent.negotiated.names(self.signals.strict),
            rekey: sent.round == Round::Rekey,
        });
        // A limit reached during this exchange under the old keys is moot;
        // one reached under the new keys (both counters restarted at the
        // NEWKEYS) calls for the next exchange.
        self.kex = Phase::Idle(Idle {
            since: now,
            rekey_due: self.over_rekey_bytes(),
        });
        Ok(())
    }
}
