//! The key exchange method messages (30..=49) between KEXINIT and NEWKEYS:
//!
//! - single round trip methods (RFC 5656 section 4 ECDH and the hybrids,
//!   RFC 8731, RFC 4253 section 8 / RFC 8268 fixed-group DH): the client's
//!   INIT (30) with its public value, the server's REPLY (31) with host key,
//!   public value and signature;
//! - Diffie-Hellman group exchange (RFC 4419 section 3): REQUEST (34) with
//!   the sizes, GROUP (31) with p and g, INIT (32) with e, REPLY (33).
//!
//! Which meaning 31 has follows from the negotiated method.

use std::collections::VecDeque;

use rand_core::CryptoRngCore;

use crate::crypto::{GroupRequest, KexEphemeral, SharedSecret};
use crate::error::{ApiMisuse, Error, PeerIncompatible, PeerMisbehaved};
use crate::event::Event;
use crate::kex::{
    exchange_hash, group_exchange_hash, DhGroup, ExchangeHashInput, GroupExchangeHashInput,
};
use crate::keys::{PrivateKey, PublicKey};
use crate::msg;
use crate::wire::{DecodeError, Encode, Reader};

use super::exchange::{unexpected, KexRun};
use super::kexinit::Negotiated;
use super::{Side, Transport};

/// A group exchange in progress (RFC 4419).
#[derive(Debug, Clone)]
pub(crate) struct GroupExchangeState {
    /// The sizes the client asked for, as sent (they are hashed).
    request: GroupRequest,
    /// The group, once the server chose it / the client accepted it.
    group: Option<DhGroup>,
}

impl GroupExchangeState {
    fn hash_input(&self) -> Option<GroupExchangeHashInput<'_>> {
        self.group.as_ref().map(|g| GroupExchangeHashInput {
            request: self.request,
            p: g.p(),
            g: g.g(),
        })
    }
}

/// H, in the group exchange form when one is in progress.
fn hash_exchange(
    n: &Negotiated,
    input: &ExchangeHashInput<'_>,
    gex: Option<&GroupExchangeState>,
) -> Vec<u8> {
    match gex.and_then(GroupExchangeState::hash_input) {
        Some(group) => group_exchange_hash(n.kex.hash(), input, &group),
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
    /// Client, after both KEXINITs: the method's first message.
    pub(super) fn start_kex_method(
        &mut self,
        run: &mut KexRun,
        n: &Negotiated,
        rng: &mut dyn CryptoRngCore,
    ) {
        if let Some(gex) = n.kex.group_exchange() {
            // RFC 4419 section 3: ask for a group first.
            let request = gex.request(need_bytes(n));
            let mut p = Vec::with_capacity(16);
            p.put_u8(msg::KEX_DH_GEX_REQUEST);
            p.put_u32(request.min);
            p.put_u32(request.preferred);
            p.put_u32(request.max);
            self.tx.send(&p, Some(rng));
            run.group_exchange = Some(GroupExchangeState {
                request,
                group: None,
            });
        } else {
            // RFC 5656 section 4 / RFC 8731 section 3: the client starts.
            let ephemeral = n.kex.start(rng);
            self.send_public(msg::KEX_ECDH_INIT, &*ephemeral, rng);
            run.ephemeral = Some(ephemeral);
        }
    }

    fn send_public(&mut self, msg_no: u8, ours: &dyn KexEphemeral, rng: &mut dyn CryptoRngCore) {
        let public = ours.public_value();
        let mut p = Vec::with_capacity(public.len() + 8);
        p.put_u8(msg_no);
        p.put_string(public);
        self.tx.send(&p, Some(rng));
    }

    /// Messages 30..=49, whose meaning belongs to the kex method.
    pub(super) fn on_kex_method_message(
        &mut self,
        seq: u32,
        payload: bytes::Bytes,
        rng: &mut dyn CryptoRngCore,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let msg_no = payload.first().copied().unwrap_or(0);
        let known = (msg::KEX_ECDH_INIT..=msg::KEX_DH_GEX_REQUEST).contains(&msg_no);
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
            let gex = run
                .negotiated
                .as_ref()
                .is_some_and(|n| n.kex.group_exchange().is_some());
            let have_group = run
                .group_exchange
                .as_ref()
                .is_some_and(|g| g.group.is_some());
            let body = payload.get(1..).unwrap_or_default();
            match (self.side, gex, msg_no) {
                (Side::Server, false, msg::KEX_ECDH_INIT) if !run.replied => {
                    self.on_init(&mut run, body, rng)
                }
                (Side::Client, false, msg::KEX_ECDH_REPLY) if run.ephemeral.is_some() => {
                    self.on_reply(&mut run, body, rng, events)
                }
                (Side::Server, true, msg::KEX_DH_GEX_REQUEST) if run.group_exchange.is_none() => {
                    self.on_gex_request(&mut run, body, rng)
                }
                (Side::Client, true, msg::KEX_DH_GEX_GROUP)
                    if run.group_exchange.is_some() && !have_group =>
                {
                    self.on_gex_group(&mut run, body, rng)
                }
                (Side::Server, true, msg::KEX_DH_GEX_INIT) if have_group && !run.replied => {
                    self.on_init(&mut run, body, rng)
                }
                (Side::Client, true, msg::KEX_DH_GEX_REPLY) if run.ephemeral.is_some() => {
                    self.on_reply(&mut run, body, rng, events)
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

    /// Server: SSH_MSG_KEX_DH_GEX_REQUEST (RFC 4419 section 3): choose a
    /// group and send it.
    fn on_gex_request(
        &mut self,
        run: &mut KexRun,
        body: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), Error> {
        let mut r = Reader::new(body);
        let request = GroupRequest {
            min: r.u32()?,
            preferred: r.u32()?,
            max: r.u32()?,
        };
        r.end()?;
        let gex = run
            .negotiated
            .as_ref()
            .and_then(|n| n.kex.group_exchange())
            .ok_or_else(|| unexpected(msg::KEX_DH_GEX_REQUEST, "without group exchange"))?;
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
        run.group_exchange = Some(GroupExchangeState {
            request,
            group: Some(group),
        });
        Ok(())
    }

    /// Client: SSH_MSG_KEX_DH_GEX_GROUP: check the group, send e.
    fn on_gex_group(
        &mut self,
        run: &mut KexRun,
        body: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), Error> {
        let mut r = Reader::new(body);
        let p = r.mpint()?;
        let g = r.mpint()?;
        r.end()?;
        let (Some(n), Some(state)) = (run.negotiated.as_ref(), run.group_exchange.as_mut()) else {
            return Err(unexpected(msg::KEX_DH_GEX_GROUP, "before the request"));
        };
        let Some(gex) = n.kex.group_exchange() else {
            return Err(unexpected(msg::KEX_DH_GEX_GROUP, "without group exchange"));
        };
        let group = gex
            .check_group(&state.request, p, g)
            .map_err(|_| PeerMisbehaved::BadKexValue)?;
        let ephemeral: Box<dyn KexEphemeral> = Box::new(group.start(rng));
        state.group = Some(group);
        self.send_public(msg::KEX_DH_GEX_INIT, &*ephemeral, rng);
        run.ephemeral = Some(ephemeral);
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
    /// section 3): compute K and H, sign H, reply, and switch keys.
    fn on_init(
        &mut self,
        run: &mut KexRun,
        body: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(), Error> {
        let mut r = Reader::new(body);
        let client_public = r.string()?;
        r.end()?;
        let Some(n) = run.negotiated.clone() else {
            return Err(unexpected(msg::KEX_ECDH_INIT, "before KEXINIT"));
        };
        let host_key = self.host_key_for(&n)?;
        let gex = run.group_exchange.clone();
        let (server_public, k) = match gex.as_ref().and_then(|g| g.group.as_ref()) {
            Some(group) => {
                let ours = Box::new(group.start(rng));
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
            &n,
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
            gex.as_ref(),
        );
        let signature = n
            .host_key
            .sign(&host_key, &h)
            .map_err(|_| ApiMisuse::InvalidArgument("the host key cannot sign"))?;
        let reply_no = if gex.is_some() {
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
        run.replied = true;
        self.install_keys(run, &n, &k, h);
        self.send_newkeys(run, Some(rng));
        if run.initial && self.peer_wants_ext_info {
            self.send_ext_info(rng);
        }
        Ok(())
    }

    /// Client: the server's reply (KEX_ECDH_REPLY / KEXDH_REPLY, or
    /// KEX_DH_GEX_REPLY): check the server's proof of its host key, then
    /// ask the application (first exchange) or check the key is unchanged
    /// (re-exchange).
    fn on_reply(
        &mut self,
        run: &mut KexRun,
        body: &[u8],
        rng: &mut dyn CryptoRngCore,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = Reader::new(body);
        let host_key_blob = r.string()?;
        let server_public = r.string()?;
        let signature = r.string()?;
        r.end()?;
        let (Some(n), Some(ephemeral)) = (run.negotiated.clone(), run.ephemeral.take()) else {
            return Err(unexpected(msg::KEX_ECDH_REPLY, "before our INIT"));
        };
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
            &n,
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
            run.group_exchange.as_ref(),
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
}
