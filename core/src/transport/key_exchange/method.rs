//! The key exchange method's messages (30..=49) between KEXINIT and NEWKEYS:
//!
//! - single round trip methods (RFC 5656 section 4 ECDH and the hybrids,
//!   RFC 8731, RFC 4253 section 8 / RFC 8268 fixed-group DH): the client's
//!   INIT (30) with its public value, the server's REPLY (31) with host key,
//!   public value and signature;
//! - Diffie-Hellman group exchange (RFC 4419 section 3): REQUEST (34) with
//!   the sizes, GROUP (31) with p and g, INIT (32) with e, REPLY (33).
//!
//! Which meaning 31 has follows from the step awaited ([`MethodStep`]),
//! which follows from the negotiated method and our side.

use std::collections::VecDeque;

use bytes::Bytes;
use rand_core::CryptoRng;

use crate::crypto::{GroupExchange, GroupRequest, KexEphemeral, SharedSecret};
use crate::error::{ApiMisuse, Error, PeerIncompatible, PeerMisbehaved};
use crate::event::Event;
use crate::kex::{exchange_hash, group_exchange_hash, ExchangeHashInput, GroupExchangeHashInput};
use crate::keys::{PrivateKey, PublicKey};
use crate::msg;
use crate::transport::{Side, Transport};
use crate::wire::{DecodeError, Encode, Reader};

use super::kexinit::Negotiated;
use super::transitions::unexpected;
use super::{Agreed, ChosenGroup, HostKeyPause, Method, MethodStep, NewKeysSent, Phase, Round};

/// Whether a method we implement gives `msg_no` a meaning (30..=34).
fn is_known(msg_no: u8) -> bool {
    (msg::KEX_ECDH_INIT..=msg::KEX_DH_GEX_REQUEST).contains(&msg_no)
}

/// H, in the group exchange form for an RFC 4419 exchange.
fn hash_exchange(
    n: &Negotiated,
    input: &ExchangeHashInput<'_>,
    group: Option<&ChosenGroup>,
) -> Vec<u8> {
    match group {
        Some(c) => group_exchange_hash(
            n.kex.hash(),
            input,
            &GroupExchangeHashInput {
                request: c.request,
                p: c.group.p(),
                g: c.group.g(),
            },
        ),
        None => exchange_hash(n.kex.hash(), input),
    }
}

/// The most key material, in bytes, one negotiated cipher or MAC needs:
/// what a group exchange's size is chosen for (OpenSSH's `we_need`).
fn need_bytes(n: &Negotiated) -> usize {
    let ciphers = [n.cipher_c2s, n.cipher_s2c]
        .iter()
        .map(|c| c.key_len().max(c.iv_len()))
        .max()
        .unwrap_or(0);
    let macs = [n.mac_c2s, n.mac_s2c]
        .iter()
        .flatten()
        .map(|m| m.key_len())
        .max()
        .unwrap_or(0);
    ciphers.max(macs)
}

impl Transport {
    /// After both KEXINITs: the client sends the method's first message;
    /// the server waits for it.
    pub(super) fn start_method(&mut self, n: &Negotiated, rng: &mut dyn CryptoRng) -> MethodStep {
        match (self.side, n.kex.group_exchange()) {
            (Side::Server, Some(gex)) => MethodStep::GroupRequest { gex },
            (Side::Server, None) => MethodStep::Init,
            (Side::Client, Some(gex)) => {
                // RFC 4419 section 3: ask for a group first.
                let request = gex.request(need_bytes(n));
                let mut p = Vec::with_capacity(16);
                p.put_u8(msg::KEX_DH_GEX_REQUEST);
                p.put_u32(request.min);
                p.put_u32(request.preferred);
                p.put_u32(request.max);
                self.tx.send(&p, Some(rng));
                MethodStep::Group { gex, request }
            }
            (Side::Client, None) => {
                // RFC 5656 section 4 / RFC 8731 section 3: the client starts.
                let ephemeral = n.kex.start(rng);
                self.send_public(msg::KEX_ECDH_INIT, &*ephemeral, rng);
                MethodStep::Reply { ephemeral }
            }
        }
    }

    fn send_public(&mut self, msg_no: u8, ours: &dyn KexEphemeral, rng: &mut dyn CryptoRng) {
        let public = ours.public_value();
        let mut p = Vec::with_capacity(public.len() + 8);
        p.put_u8(msg_no);
        p.put_string(public);
        self.tx.send(&p, Some(rng));
    }

    /// Messages 30..=49, whose meaning belongs to the kex method. Numbers
    /// no method we know uses get UNIMPLEMENTED outside an exchange's
    /// method step (RFC 4253 section 11.4).
    pub(in crate::transport) fn on_kex_method_message(
        &mut self,
        seq: u32,
        payload: Bytes,
        rng: &mut dyn CryptoRng,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let msg_no = payload.first().copied().unwrap_or(0);
        let state = match &mut self.kex {
            Phase::Method(m) if m.skip_guessed_packet => {
                m.skip_guessed_packet = false;
                return Ok(());
            }
            Phase::Method(_) => return self.method_step(seq, msg_no, &payload, rng, events),
            Phase::KexInitSent(_) => return Err(unexpected(msg_no, "before KEXINIT")),
            Phase::Start | Phase::Idle(_) => "no key exchange in progress",
            Phase::HostKeyPause(_) | Phase::NewKeysSent(_) | Phase::Failed => {
                "in this key exchange state"
            }
        };
        if is_known(msg_no) {
            return Err(unexpected(msg_no, state));
        }
        self.send_unimplemented(seq);
        Ok(())
    }

    /// One method message in [`Phase::Method`]: the awaited one moves the
    /// exchange on, any other known one is an error.
    fn method_step(
        &mut self,
        seq: u32,
        msg_no: u8,
        payload: &[u8],
        rng: &mut dyn CryptoRng,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let Phase::Method(Method { agreed, step, .. }) = self.kex.take() else {
            return Err(unexpected(msg_no, "in this key exchange state"));
        };
        let body = payload.get(1..).unwrap_or_default();
        match (step, msg_no) {
            (MethodStep::Init, msg::KEX_ECDH_INIT) => self.on_init(agreed, None, body, rng),
            (MethodStep::Reply { ephemeral }, msg::KEX_ECDH_REPLY) => {
                self.on_reply(agreed, ephemeral, None, body, rng, events)
            }
            (MethodStep::GroupRequest { gex }, msg::KEX_DH_GEX_REQUEST) => {
                self.on_gex_request(agreed, gex, body, rng)
            }
            (MethodStep::Group { gex, request }, msg::KEX_DH_GEX_GROUP) => {
                self.on_gex_group(agreed, gex, request, body, rng)
            }
            (MethodStep::GroupInit { group }, msg::KEX_DH_GEX_INIT) => {
                self.on_init(agreed, Some(group), body, rng)
            }
            (MethodStep::GroupReply { group, ephemeral }, msg::KEX_DH_GEX_REPLY) => {
                self.on_reply(agreed, ephemeral, Some(group), body, rng, events)
            }
            (step, _) => {
                self.kex = Phase::Method(Method {
                    agreed,
                    skip_guessed_packet: false,
                    step,
                });
                if is_known(msg_no) {
                    return Err(unexpected(msg_no, "in this key exchange state"));
                }
                self.send_unimplemented(seq);
                Ok(())
            }
        }
    }

    /// Server: SSH_MSG_KEX_DH_GEX_REQUEST (RFC 4419 section 3): choose a
    /// group and send it.
    fn on_gex_request(
        &mut self,
        agreed: Agreed,
        gex: &'static dyn GroupExchange,
        body: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(), Error> {
        let mut r = Reader::new(body);
        let request = GroupRequest {
            min: r.u32()?,
            preferred: r.u32()?,
            max: r.u32()?,
        };
        r.end()?;
        let group = gex.choose_group(&request).ok_or_else(|| {
            Error::from(PeerIncompatible::NoCommonAlgorithm {
                kind: "Diffie-Hellman group size",
                ours: "2048-8192 bits".to_string(),
                theirs: format!("{}-{} bits", request.min, request.max),
            })
        })?;
        let mut p = Vec::with_capacity(group.p().len() + 16);
        p.put_u8(msg::KEX_DH_GEX_GROUP);
        p.put_mpint(group.p());
        p.put_mpint(group.g());
        self.tx.send(&p, Some(rng));
        self.kex = Phase::Method(Method {
            agreed,
            skip_guessed_packet: false,
            step: MethodStep::GroupInit {
                group: ChosenGroup { request, group },
            },
        });
        Ok(())
    }

    /// Client: SSH_MSG_KEX_DH_GEX_GROUP: check the group, send e.
    fn on_gex_group(
        &mut self,
        agreed: Agreed,
        gex: &'static dyn GroupExchange,
        request: GroupRequest,
        body: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(), Error> {
        let mut r = Reader::new(body);
        let p = r.mpint()?;
        let g = r.mpint()?;
        r.end()?;
        let group = gex
            .check_group(&request, p, g)
            .map_err(|_| PeerMisbehaved::BadKexValue)?;
        let ephemeral: Box<dyn KexEphemeral> = Box::new(group.start(rng));
        self.send_public(msg::KEX_DH_GEX_INIT, &*ephemeral, rng);
        self.kex = Phase::Method(Method {
            agreed,
            skip_guessed_packet: false,
            step: MethodStep::GroupReply {
                group: ChosenGroup { request, group },
                ephemeral,
            },
        });
        Ok(())
    }

    /// The host key to prove: the first of ours that can make the
    /// negotiated signature.
    fn host_key_for(&self, n: &Negotiated) -> Result<PrivateKey, Error> {
        self.host_keys
            .iter()
            .find(|k| n.host_key.supports_key(k.public_key()))
            .cloned()
            .ok_or_else(|| {
                PeerIncompatible::NoCommonAlgorithm {
                    kind: "host key",
                    ours: self.offer.host_key.join(","),
                    theirs: n.host_key.name().to_string(),
                }
                .into()
            })
    }

    /// Server: the client's public value (KEX_ECDH_INIT / KEXDH_INIT, RFC
    /// 5656 section 4 / RFC 4253 section 8, or KEX_DH_GEX_INIT, RFC 4419
    /// section 3): compute K and H, sign H, reply, and send NEWKEYS (and,
    /// the first time, EXT_INFO if the client asked for it).
    fn on_init(
        &mut self,
        agreed: Agreed,
        group: Option<ChosenGroup>,
        body: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(), Error> {
        let mut r = Reader::new(body);
        let client_public = r.string()?;
        r.end()?;
        let n = &agreed.negotiated;
        let host_key = self.host_key_for(n)?;
        let (server_public, k) = match &group {
            Some(chosen) => {
                let ours = Box::new(chosen.group.start(rng));
                let public = ours.public_value().to_vec();
                (public, ours.agree(client_public))
            }
            None => match n.kex.respond(rng, client_public) {
                Ok((public, k)) => (public, Ok(k)),
                Err(e) => (Vec::new(), Err(e)),
            },
        };
        let k = k.map_err(|_| PeerMisbehaved::BadKexValue)?;
        let h = hash_exchange(
            n,
            &ExchangeHashInput {
                client_ident: self.peer_ident.as_deref().unwrap_or_default(),
                server_ident: &self.our_ident,
                client_kexinit: &agreed.peer_kexinit,
                server_kexinit: &agreed.our_kexinit,
                host_key: host_key.public_key().blob(),
                client_public,
                server_public: &server_public,
                shared_secret: k.encoded(),
            },
            group.as_ref(),
        );
        let signature = n
            .host_key
            .sign(&host_key, &h)
            .map_err(|_| ApiMisuse::InvalidArgument("the host key cannot sign"))?;
        let reply_no = if group.is_some() {
            msg::KEX_DH_GEX_REPLY
        } else {
            msg::KEX_ECDH_REPLY
        };
        let mut p = Vec::with_capacity(server_public.len() + signature.len() + 512);
        p.put_u8(reply_no);
        p.put_string(host_key.public_key().blob());
        p.put_string(&server_public);
        p.put_string(&signature);
        self.tx.send(&p, Some(rng));
        let keys = self.derive_keys(n, &k, h);
        self.send_newkeys(keys.sealer, &agreed.negotiated, Some(rng));
        if agreed.round == Round::Initial && self.signals.peer_wants_ext_info {
            self.send_ext_info(rng);
        }
        self.kex = Phase::NewKeysSent(NewKeysSent {
            round: agreed.round,
            negotiated: agreed.negotiated,
            opener: keys.opener,
        });
        Ok(())
    }

    /// Client: the server's reply (KEX_ECDH_REPLY / KEXDH_REPLY, or
    /// KEX_DH_GEX_REPLY): check the server's proof of its host key, then
    /// pause for the application (first exchange) or check the key is
    /// unchanged and send NEWKEYS (re-exchange).
    fn on_reply(
        &mut self,
        agreed: Agreed,
        ephemeral: Box<dyn KexEphemeral>,
        group: Option<ChosenGroup>,
        body: &[u8],
        rng: &mut dyn CryptoRng,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = Reader::new(body);
        let host_key_blob = r.string()?;
        let server_public = r.string()?;
        let signature = r.string()?;
        r.end()?;
        let n = &agreed.negotiated;
        let host_key =
            PublicKey::from_blob(host_key_blob).map_err(|_| DecodeError { what: "host key" })?;
        if !n.host_key.supports_key(&host_key) {
            return Err(PeerMisbehaved::WrongHostKeyType(host_key.algorithm()).into());
        }
        let client_public = ephemeral.public_value().to_vec();
        let k: SharedSecret = ephemeral
            .agree(server_public)
            .map_err(|_| PeerMisbehaved::BadKexValue)?;
        let h = hash_exchange(
            n,
            &ExchangeHashInput {
                client_ident: &self.our_ident,
                server_ident: self.peer_ident.as_deref().unwrap_or_default(),
                client_kexinit: &agreed.our_kexinit,
                server_kexinit: &agreed.peer_kexinit,
                host_key: host_key_blob,
                client_public: &client_public,
                server_public,
                shared_secret: k.encoded(),
            },
            group.as_ref(),
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
        let keys = self.derive_keys(n, &k, h);
        match agreed.round {
            Round::Initial => {
                self.host_key = Some(host_key.clone());
                events.push_back(Event::HostKey { key: host_key });
                // No NEWKEYS and no further processing until the
                // application decides (`accept_host_key`).
                self.kex = Phase::HostKeyPause(HostKeyPause {
                    negotiated: agreed.negotiated,
                    keys,
                });
            }
            Round::Rekey => {
                self.send_newkeys(keys.sealer, &agreed.negotiated, Some(rng));
                self.kex = Phase::NewKeysSent(NewKeysSent {
                    round: Round::Rekey,
                    negotiated: agreed.negotiated,
                    opener: keys.opener,
                });
            }
        }
        Ok(())
    }
}
