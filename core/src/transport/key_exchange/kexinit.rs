//! SSH_MSG_KEXINIT (RFC 4253 section 7.1): building ours, reading the
//! peer's, and choosing the algorithms.

use rand_core::CryptoRng;

use crate::crypto::{
    CipherAlgorithm, CryptoProvider, KexAlgorithm, MacAlgorithm, SignatureAlgorithm,
};
use crate::error::{Error, PeerIncompatible};
use crate::event::NegotiatedAlgorithms;
use crate::keys::PrivateKey;
use crate::msg;
use crate::transport::compress::Method as Compression;
use crate::transport::Side;
use crate::wire::{Encode, Reader};

/// RFC 8308 section 2.1: the client signals it accepts EXT_INFO.
pub(crate) const EXT_INFO_C: &str = "ext-info-c";
/// RFC 8308 section 2.1: the server's signal.
pub(crate) const EXT_INFO_S: &str = "ext-info-s";
/// OpenSSH PROTOCOL "strict key exchange": the client's marker.
pub(crate) const KEX_STRICT_C: &str = "kex-strict-c-v00@openssh.com";
/// The server's marker.
pub(crate) const KEX_STRICT_S: &str = "kex-strict-s-v00@openssh.com";

/// Whether `name` is a signal rather than a key exchange method.
fn is_marker(name: &str) -> bool {
    matches!(name, EXT_INFO_C | EXT_INFO_S | KEX_STRICT_C | KEX_STRICT_S)
}

/// What we offer, fixed at construction: the configured names the provider
/// implements (and, for a server, that one of its host keys can sign).
#[derive(Debug, Clone)]
pub(crate) struct Offer {
    pub(crate) kex: Vec<String>,
    pub(crate) host_key: Vec<String>,
    pub(crate) cipher: Vec<String>,
    pub(crate) mac: Vec<String>,
    pub(crate) compression: Vec<String>,
}

impl Offer {
    pub(crate) fn new(
        config: &crate::config::TransportConfig,
        side: Side,
        host_keys: &[PrivateKey],
    ) -> Self {
        let p = &config.crypto;
        let prefs = &config.algorithms;
        let keep = |names: &[String], known: &dyn Fn(&str) -> bool| -> Vec<String> {
            names.iter().filter(|n| known(n)).cloned().collect()
        };
        let host_key = keep(&prefs.host_key, &|n| match p.find_signature(n) {
            None => false,
            // RFC 4253 section 7.1: a server lists the algorithms its host keys can do.
            Some(alg) => {
                side == Side::Client || host_keys.iter().any(|k| alg.supports_key(k.public_key()))
            }
        });
        Offer {
            kex: keep(&prefs.kex, &|n| p.find_kex(n).is_some()),
            host_key,
            cipher: keep(&prefs.cipher, &|n| p.find_cipher(n).is_some()),
            mac: keep(&prefs.mac, &|n| p.find_mac(n).is_some()),
            compression: keep(&prefs.compression, &|n| Compression::from_name(n).is_some()),
        }
    }

    /// Our KEXINIT payload. The first one also carries the ext-info and
    /// strict kex markers in the kex list (RFC 8308 section 2.1; OpenSSH
    /// PROTOCOL: only valid in the first KEXINIT).
    pub(crate) fn kexinit(
        &self,
        side: Side,
        first: bool,
        strict_kex: bool,
        rng: &mut dyn CryptoRng,
    ) -> Vec<u8> {
        let mut kex: Vec<&str> = self.kex.iter().map(String::as_str).collect();
        if first {
            kex.push(match side {
                Side::Client => EXT_INFO_C,
                Side::Server => EXT_INFO_S,
            });
            if strict_kex {
                kex.push(match side {
                    Side::Client => KEX_STRICT_C,
                    Side::Server => KEX_STRICT_S,
                });
            }
        }
        let mut cookie = [0u8; 16];
        rng.fill_bytes(&mut cookie);
        let mut p = Vec::with_capacity(512);
        p.put_u8(msg::KEXINIT);
        p.put_raw(&cookie);
        p.put_name_list(&kex);
        p.put_name_list(&self.host_key);
        p.put_name_list(&self.cipher);
        p.put_name_list(&self.cipher);
        p.put_name_list(&self.mac);
        p.put_name_list(&self.mac);
        p.put_name_list(&self.compression);
        p.put_name_list(&self.compression);
        p.put_name_list::<&str>(&[]);
        p.put_name_list::<&str>(&[]);
        p.put_bool(false); // first_kex_packet_follows: we never guess
        p.put_u32(0); // reserved
        p
    }
}

/// A KEXINIT's name-lists (either side's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KexInitLists {
    pub(crate) kex: Vec<String>,
    pub(crate) host_key: Vec<String>,
    pub(crate) cipher_c2s: Vec<String>,
    pub(crate) cipher_s2c: Vec<String>,
    pub(crate) mac_c2s: Vec<String>,
    pub(crate) mac_s2c: Vec<String>,
    pub(crate) compression_c2s: Vec<String>,
    pub(crate) compression_s2c: Vec<String>,
    pub(crate) first_kex_packet_follows: bool,
}

impl KexInitLists {
    /// Parses a KEXINIT payload (message number included).
    pub(crate) fn parse(payload: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        r.u8()?;
        r.bytes(16, "KEXINIT cookie")?;
        let mut list = || -> Result<Vec<String>, Error> {
            Ok(r.name_list()?.into_iter().map(str::to_string).collect())
        };
        let lists = KexInitLists {
            kex: list()?,
            host_key: list()?,
            cipher_c2s: list()?,
            cipher_s2c: list()?,
            mac_c2s: list()?,
            mac_s2c: list()?,
            compression_c2s: list()?,
            compression_s2c: list()?,
            first_kex_packet_follows: false,
        };
        // Languages: read and ignored (RFC 4253 section 7.1).
        r.name_list()?;
        r.name_list()?;
        let first_kex_packet_follows = r.bool()?;
        r.u32()?;
        Ok(KexInitLists {
            first_kex_packet_follows,
            ..lists
        })
    }

    /// Whether the kex list names `name` (used for the markers).
    pub(crate) fn contains_kex(&self, name: &str) -> bool {
        self.kex.iter().any(|k| k == name)
    }
}

/// The algorithms chosen for one key exchange.
#[derive(Debug, Clone)]
pub(crate) struct Negotiated {
    pub(crate) kex: &'static dyn KexAlgorithm,
    pub(crate) host_key: &'static dyn SignatureAlgorithm,
    pub(crate) cipher_c2s: &'static dyn CipherAlgorithm,
    pub(crate) cipher_s2c: &'static dyn CipherAlgorithm,
    pub(crate) mac_c2s: Option<&'static dyn MacAlgorithm>,
    pub(crate) mac_s2c: Option<&'static dyn MacAlgorithm>,
    pub(crate) compression_c2s: Compression,
    pub(crate) compression_s2c: Compression,
}

impl Negotiated {
    /// The names, for [`crate::event::Event::KeyExchangeDone`].
    pub(crate) fn names(&self, strict_kex: bool) -> NegotiatedAlgorithms {
        let mac = |m: Option<&'static dyn MacAlgorithm>| {
            m.map(|m| m.name().to_string()).unwrap_or_default()
        };
        NegotiatedAlgorithms {
            kex: self.kex.name().to_string(),
            host_key: self.host_key.name().to_string(),
            cipher_c2s: self.cipher_c2s.name().to_string(),
            cipher_s2c: self.cipher_s2c.name().to_string(),
            mac_c2s: mac(self.mac_c2s),
            mac_s2c: mac(self.mac_s2c),
            compression_c2s: self.compression_c2s.name().to_string(),
            compression_s2c: self.compression_s2c.name().to_string(),
            strict_kex,
        }
    }
}

/// RFC 4253 section 7.1: for each slot, the first algorithm on the client's
/// list that is also on the server's.
fn choose<'a>(
    kind: &'static str,
    side: Side,
    client: &'a [String],
    server: &[String],
) -> Result<&'a str, PeerIncompatible> {
    client
        .iter()
        .find(|c| !is_marker(c) && server.contains(c))
        .map(String::as_str)
        .ok_or_else(|| {
            let (ours, theirs) = match side {
                Side::Client => (client, server),
                Side::Server => (server, client),
            };
            PeerIncompatible::NoCommonAlgorithm {
                kind,
                ours: ours.join(","),
                theirs: theirs.join(","),
            }
        })
}

/// Chooses every algorithm from the client's and the server's lists.
pub(crate) fn negotiate(
    side: Side,
    client: &KexInitLists,
    server: &KexInitLists,
    provider: &CryptoProvider,
) -> Result<Negotiated, PeerIncompatible> {
    // The names chosen are on our own list, which only holds names the
    // provider implements, so the lookups below succeed.
    let missing = |kind| PeerIncompatible::NoCommonAlgorithm {
        kind,
        ours: String::new(),
        theirs: String::new(),
    };
    let kex = choose("kex", side, &client.kex, &server.kex)?;
    let kex = provider.find_kex(kex).ok_or_else(|| missing("kex"))?;
    let host_key = choose("host key", side, &client.host_key, &server.host_key)?;
    let host_key = provider
        .find_signature(host_key)
        .ok_or_else(|| missing("host key"))?;
    let cipher = |kind,
                  c: &[String],
                  s: &[String]|
     -> Result<&'static dyn CipherAlgorithm, PeerIncompatible> {
        let name = choose(kind, side, c, s)?;
        provider.find_cipher(name).ok_or_else(|| missing(kind))
    };
    let cipher_c2s = cipher("cipher c->s", &client.cipher_c2s, &server.cipher_c2s)?;
    let cipher_s2c = cipher("cipher s->c", &client.cipher_s2c, &server.cipher_s2c)?;
    // RFC 5647 section 5.1 as OpenSSH does it: no MAC for an AEAD cipher.
    let mac = |kind,
               aead: bool,
               c: &[String],
               s: &[String]|
     -> Result<Option<&'static dyn MacAlgorithm>, PeerIncompatible> {
        if aead {
            return Ok(None);
        }
        let name = choose(kind, side, c, s)?;
        provider
            .find_mac(name)
            .map(Some)
            .ok_or_else(|| missing(kind))
    };
    let mac_c2s = mac(
        "mac c->s",
        cipher_c2s.is_aead(),
        &client.mac_c2s,
        &server.mac_c2s,
    )?;
    let mac_s2c = mac(
        "mac s->c",
        cipher_s2c.is_aead(),
        &client.mac_s2c,
        &server.mac_s2c,
    )?;
    // RFC 4253 section 6.2, chosen as the other slots; the name is on our
    // own list, which holds only methods we implement.
    let compression = |kind, c: &[String], s: &[String]| -> Result<Compression, PeerIncompatible> {
        let name = choose(kind, side, c, s)?;
        Compression::from_name(name).ok_or_else(|| missing(kind))
    };
    let compression_c2s = compression(
        "compression c->s",
        &client.compression_c2s,
        &server.compression_c2s,
    )?;
    let compression_s2c = compression(
        "compression s->c",
        &client.compression_s2c,
        &server.compression_s2c,
    )?;
    Ok(Negotiated {
        kex,
        host_key,
        cipher_c2s,
        cipher_s2c,
        mac_c2s,
        mac_s2c,
        compression_c2s,
        compression_s2c,
    })
}

/// RFC 4253 section 7.1: a guessed key exchange packet is right only if the
/// first kex method and the first host key algorithm of both sides agree
/// (the check OpenSSH makes).
pub(crate) fn guess_is_right(ours: &KexInitLists, theirs: &KexInitLists) -> bool {
    ours.kex.first() == theirs.kex.first() && ours.host_key.first() == theirs.host_key.first()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransportConfig;
    use rand_chacha::rand_core::SeedableRng;

    fn lists(side: Side, config: &TransportConfig, first: bool) -> KexInitLists {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let mut r2 = rand_chacha::ChaCha20Rng::seed_from_u64(6);
        let keys = vec![PrivateKey::generate_ed25519(&mut r2)];
        let offer = Offer::new(config, side, &keys);
        KexInitLists::parse(&offer.kexinit(side, first, config.strict_kex, &mut rng)).unwrap()
    }

    #[test]
    fn first_kexinit_carries_the_markers_later_ones_do_not() {
        let mut c = TransportConfig::default();
        c.algorithms.kex = vec![
            "curve25519-sha256".into(),
            "curve25519-sha256@libssh.org".into(),
        ];
        let first = lists(Side::Client, &c, true);
        assert_eq!(
            first.kex,
            [
                "curve25519-sha256",
                "curve25519-sha256@libssh.org",
                EXT_INFO_C,
                KEX_STRICT_C
            ]
        );
        assert_eq!(first.compression_c2s, ["none"]);
        assert!(!first.first_kex_packet_follows);
        let later = lists(Side::Server, &c, false);
        assert_eq!(
            later.kex,
            ["curve25519-sha256", "curve25519-sha256@libssh.org"]
        );
        let no_strict = TransportConfig {
            strict_kex: false,
            ..TransportConfig::default()
        };
        assert!(!lists(Side::Server, &no_strict, true).contains_kex(KEX_STRICT_S));
        assert!(lists(Side::Server, &no_strict, true).contains_kex(EXT_INFO_S));
    }

    #[test]
    fn client_preference_wins_and_aead_skips_the_mac() {
        let mut c = TransportConfig::default();
        c.algorithms.cipher = vec![
            "aes256-gcm@openssh.com".into(),
            "aes128-gcm@openssh.com".into(),
        ];
        let s = TransportConfig::default();
        let client = lists(Side::Client, &c, true);
        let server = lists(Side::Server, &s, true);
        let n = negotiate(Side::Server, &client, &server, &s.crypto).unwrap();
        let names = n.names(true);
        assert_eq!(names.kex, "mlkem768x25519-sha256");
        assert_eq!(names.cipher_c2s, "aes256-gcm@openssh.com");
        assert_eq!(names.cipher_s2c, "aes256-gcm@openssh.com");
        assert_eq!(names.mac_c2s, "");
    }

    #[test]
    fn a_non_aead_cipher_negotiates_a_mac_and_legacy_names_are_offered_only_when_enabled() {
        let mut c = TransportConfig::default();
        c.algorithms.cipher = vec!["aes128-ctr".into()];
        c.algorithms.mac = vec!["hmac-sha1".into(), "hmac-sha2-512-etm@openssh.com".into()];
        let s = TransportConfig::default();
        let client = lists(Side::Client, &c, true);
        let server = lists(Side::Server, &s, true);
        // The server did not enable hmac-sha1, so it is not on its list.
        assert!(!server.mac_c2s.iter().any(|m| m == "hmac-sha1"));
        let n = negotiate(Side::Client, &client, &server, &c.crypto).unwrap();
        let names = n.names(true);
        assert_eq!(names.cipher_c2s, "aes128-ctr");
        assert_eq!(names.mac_c2s, "hmac-sha2-512-etm@openssh.com");
        // Enabled on both ends, the legacy MAC wins by the client's order.
        let mut s = TransportConfig::default();
        s.algorithms.mac.push("hmac-sha1".into());
        let server = lists(Side::Server, &s, true);
        let n = negotiate(Side::Client, &client, &server, &c.crypto).unwrap();
        assert_eq!(n.names(true).mac_s2c, "hmac-sha1");
    }

    #[test]
    fn a_server_offers_the_host_key_algorithms_of_the_keys_it_has() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let c = TransportConfig::default();
        let ed = PrivateKey::generate_ed25519(&mut rng);
        let offer = Offer::new(&c, Side::Server, &[ed]);
        assert_eq!(offer.host_key, ["ssh-ed25519"]);
        // A client offers every enabled one.
        let offer = Offer::new(&c, Side::Client, &[]);
        assert_eq!(offer.host_key, c.algorithms.host_key);
    }

    #[test]
    fn no_common_algorithm_names_both_lists() {
        let mut c = TransportConfig::default();
        c.algorithms.cipher = vec!["aes256-gcm@openssh.com".into()];
        let mut s = TransportConfig::default();
        s.algorithms.cipher = vec!["aes128-gcm@openssh.com".into()];
        let client = lists(Side::Client, &c, true);
        let server = lists(Side::Server, &s, true);
        let e = negotiate(Side::Client, &client, &server, &c.crypto).unwrap_err();
        assert_eq!(
            e,
            PeerIncompatible::NoCommonAlgorithm {
                kind: "cipher c->s",
                ours: "aes256-gcm@openssh.com".into(),
                theirs: "aes128-gcm@openssh.com".into(),
            }
        );
    }

    #[test]
    fn markers_never_match_as_kex_methods() {
        let c = TransportConfig::default();
        let mut client = lists(Side::Client, &c, true);
        let mut server = lists(Side::Server, &c, true);
        client.kex = vec![EXT_INFO_C.into(), "x".into()];
        server.kex = vec![EXT_INFO_C.into()];
        assert!(negotiate(Side::Client, &client, &server, &c.crypto).is_err());
    }

    #[test]
    fn compression_other_than_none_is_refused() {
        let c = TransportConfig::default();
        let client = lists(Side::Client, &c, true);
        let mut server = lists(Side::Server, &c, true);
        server.compression_s2c = vec!["zlib@openssh.com".into()];
        assert!(matches!(
            negotiate(Side::Client, &client, &server, &c.crypto),
            Err(PeerIncompatible::NoCommonAlgorithm {
                kind: "compression s->c",
                ..
            })
        ));
    }
}
