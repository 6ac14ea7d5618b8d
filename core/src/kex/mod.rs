//! Key exchange methods and the computations every method shares: the
//! exchange hash (RFC 4253 section 8, RFC 5656 section 4, RFC 4419 section
//! 3) and the key derivation (RFC 4253 section 7.2).
//!
//! Methods, one module each:
//! - [`mlkem`]: `mlkem768x25519-sha256` (post-quantum hybrid);
//! - [`sntrup`]: `sntrup761x25519-sha512` and its `@openssh.com` name
//!   (post-quantum hybrid on [`sntrup761`]);
//! - [`curve25519`]: `curve25519-sha256` (RFC 8731);
//! - [`ecdh`]: `ecdh-sha2-nistp256/384/521` (RFC 5656);
//! - [`dh`]: `diffie-hellman-group14-sha256`, `-group16-sha512`,
//!   `-group18-sha512` (RFC 8268),
//!   legacy `-group14-sha1`, and [`dh::gex`]'s
//!   `diffie-hellman-group-exchange-sha256` (RFC 4419).

pub mod curve25519;
pub mod dh;
pub mod ecdh;
pub mod mlkem;
pub mod sntrup;
pub mod sntrup761;

use zeroize::Zeroizing;

use crate::crypto::{GroupRequest, HashAlgorithm};
use crate::wire::Encode;

pub use curve25519::{Curve25519Sha256, CURVE25519_SHA256, CURVE25519_SHA256_LIBSSH};
pub use dh::gex::{GroupExchangeDh, DH_GEX_SHA256};
pub use dh::{
    DhGroup, FixedGroupDh, DH_GROUP14_SHA1, DH_GROUP14_SHA256, DH_GROUP16_SHA512, DH_GROUP18_SHA512,
};
pub use ecdh::{EcdhNist, ECDH_SHA2_NISTP256, ECDH_SHA2_NISTP384, ECDH_SHA2_NISTP521};
pub use mlkem::{MlKem768X25519, MLKEM768X25519_SHA256};
pub use sntrup::{Sntrup761X25519, SNTRUP761X25519_SHA512, SNTRUP761X25519_SHA512_OPENSSH};

/// What goes into the exchange hash of a single round trip method
/// (RFC 5656 section 4, RFC 8731 section 3).
#[derive(Debug, Clone, Copy)]
pub struct ExchangeHashInput<'a> {
    /// V_C: the client's identification string, without CR LF.
    pub client_ident: &'a [u8],
    /// V_S: the server's identification string, without CR LF.
    pub server_ident: &'a [u8],
    /// I_C: the payload of the client's KEXINIT.
    pub client_kexinit: &'a [u8],
    /// I_S: the payload of the server's KEXINIT.
    pub server_kexinit: &'a [u8],
    /// K_S: the server's host key blob.
    pub host_key: &'a [u8],
    /// Q_C: the client's public value.
    pub client_public: &'a [u8],
    /// Q_S: the server's public value.
    pub server_public: &'a [u8],
    /// K, already encoded (mpint or string).
    pub shared_secret: &'a [u8],
}

/// The group exchange fields of the exchange hash (RFC 4419 section 3).
#[derive(Debug, Clone, Copy)]
pub struct GroupExchangeHashInput<'a> {
    /// min, n, max as the client sent them.
    pub request: GroupRequest,
    /// The safe prime p, unsigned big-endian.
    pub p: &'a [u8],
    /// The generator g, unsigned big-endian.
    pub g: &'a [u8],
}

/// H = HASH(string V_C || string V_S || string I_C || string I_S ||
/// string K_S || string Q_C || string Q_S || K).
pub fn exchange_hash(hash: HashAlgorithm, input: &ExchangeHashInput<'_>) -> Vec<u8> {
    hash_fields(hash, input, None)
}

/// The group exchange form (RFC 4419 section 3): `uint32 min || uint32 n ||
/// uint32 max || mpint p || mpint g` after K_S, then e and f (the public
/// values, whose mpint contents make the same bytes as `string`s) and K.
pub fn group_exchange_hash(
    hash: HashAlgorithm,
    input: &ExchangeHashInput<'_>,
    group: &GroupExchangeHashInput<'_>,
) -> Vec<u8> {
    hash_fields(hash, input, Some(group))
}

fn hash_fields(
    hash: HashAlgorithm,
    input: &ExchangeHashInput<'_>,
    group: Option<&GroupExchangeHashInput<'_>>,
) -> Vec<u8> {
    let mut h = hash.hasher();
    h.put_string(input.client_ident);
    h.put_string(input.server_ident);
    h.put_string(input.client_kexinit);
    h.put_string(input.server_kexinit);
    h.put_string(input.host_key);
    if let Some(gex) = group {
        h.put_u32(gex.request.min);
        h.put_u32(gex.request.preferred);
        h.put_u32(gex.request.max);
        h.put_mpint(gex.p);
        h.put_mpint(gex.g);
    }
    h.put_string(input.client_public);
    h.put_string(input.server_public);
    h.put_raw(input.shared_secret);
    h.finish()
}

/// One key of RFC 4253 section 7.2: `HASH(K || H || letter || session_id)`,
/// extended with `HASH(K || H || K1 || ... )` while it is shorter than `len`,
/// then cut to `len` bytes. `shared_secret` is K already encoded.
pub fn derive_key(
    hash: HashAlgorithm,
    shared_secret: &[u8],
    exchange_hash: &[u8],
    letter: u8,
    session_id: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(len + hash.output_len()));
    let mut h = hash.hasher();
    h.put_raw(shared_secret);
    h.put_raw(exchange_hash);
    h.put_u8(letter);
    h.put_raw(session_id);
    key.extend_from_slice(&Zeroizing::new(h.finish()));
    while key.len() < len {
        let mut h = hash.hasher();
        h.put_raw(shared_secret);
        h.put_raw(exchange_hash);
        h.put_raw(&key);
        key.extend_from_slice(&Zeroizing::new(h.finish()));
    }
    key.truncate(len);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SharedSecret;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // Fixture: K = mpint 0x80 0x01 .. 0x1f (32 bytes, top bit set so it gets a
    // leading zero), H = 32 bytes 0xa0..0xbf, session_id = 32 bytes 0xc0..0xdf.
    fn fixture() -> (SharedSecret, Vec<u8>, Vec<u8>) {
        let mut k: Vec<u8> = (0u8..32).collect();
        k[0] = 0x80;
        let h: Vec<u8> = (0xa0u8..0xc0).collect();
        let sid: Vec<u8> = (0xc0u8..0xe0).collect();
        (SharedSecret::from_unsigned_be(&k), h, sid)
    }

    /// Expected values computed independently with Python's hashlib:
    ///
    /// ```text
    /// python3 -c "import hashlib;k=bytes([0x80])+bytes(range(1,32));K=len(b'\0'+k).to_bytes(4,'big')+b'\0'+k;H=bytes(range(0xa0,0xc0));S=bytes(range(0xc0,0xe0));d=lambda x:hashlib.sha256(x).digest();k1=d(K+H+b'A'+S);k2=d(K+H+k1);print(k1.hex()[:24]);print(d(K+H+b'C'+S).hex());print((k1+k2)[:40].hex());print(hashlib.sha512(K+H+b'D'+S).hexdigest()[:64])"
    /// ```
    #[test]
    fn key_derivation_matches_values_computed_with_python_hashlib() {
        let (k, h, sid) = fixture();
        let iv = derive_key(HashAlgorithm::Sha256, k.encoded(), &h, b'A', &sid, 12);
        assert_eq!(hex(&iv), PY_IV_A);
        let key = derive_key(HashAlgorithm::Sha256, k.encoded(), &h, b'C', &sid, 32);
        assert_eq!(hex(&key), PY_KEY_C);
        // Longer than the hash output: the RFC 4253 section 7.2 extension.
        let long = derive_key(HashAlgorithm::Sha256, k.encoded(), &h, b'A', &sid, 40);
        assert_eq!(hex(&long), PY_LONG_A);
        let k512 = derive_key(HashAlgorithm::Sha512, k.encoded(), &h, b'D', &sid, 32);
        assert_eq!(hex(&k512), PY_SHA512_D);
    }

    /// RFC 5656 section 4 / RFC 8731 section 3 field order, checked against
    /// Python's hashlib:
    ///
    /// ```text
    /// python3 -c "import hashlib,struct;s=lambda b:struct.pack('>I',len(b))+b;k=bytes([0x80])+bytes(range(1,32));K=s(b'\0'+k);print(hashlib.sha256(s(b'SSH-2.0-client')+s(b'SSH-2.0-server')+s(b'\x14client kexinit')+s(b'\x14server kexinit')+s(b'host key blob')+s(bytes(range(32)))+s(bytes(range(32,64)))+K).hexdigest())"
    /// ```
    #[test]
    fn exchange_hash_matches_python_hashlib() {
        let (k, _, _) = fixture();
        let q_c: Vec<u8> = (0u8..32).collect();
        let q_s: Vec<u8> = (32u8..64).collect();
        let h = exchange_hash(
            HashAlgorithm::Sha256,
            &ExchangeHashInput {
                client_ident: b"SSH-2.0-client",
                server_ident: b"SSH-2.0-server",
                client_kexinit: b"\x14client kexinit",
                server_kexinit: b"\x14server kexinit",
                host_key: b"host key blob",
                client_public: &q_c,
                server_public: &q_s,
                shared_secret: k.encoded(),
            },
        );
        assert_eq!(
            hex(&h),
            "adfbd777e07f9a84da4f276e937f6243c99c0620d93cb9fe72ae1093e79a7ffd"
        );
    }

    /// RFC 4419 section 3 field order, checked against Python's hashlib:
    ///
    /// ```text
    /// python3 -c "import hashlib,struct;s=lambda b:struct.pack('>I',len(b))+b;u=lambda n:struct.pack('>I',n);k=bytes([0x80])+bytes(range(1,32));K=s(b'\0'+k);print(hashlib.sha256(s(b'C')+s(b'S')+s(b'IC')+s(b'IS')+s(b'KS')+u(2048)+u(3072)+u(8192)+s(b'\0\xff\x07')+s(b'\x02')+s(b'\x05')+s(b'\x06')+K).hexdigest())"
    /// ```
    #[test]
    fn group_exchange_hash_matches_python_hashlib() {
        let (k, _, _) = fixture();
        let h = group_exchange_hash(
            HashAlgorithm::Sha256,
            &ExchangeHashInput {
                client_ident: b"C",
                server_ident: b"S",
                client_kexinit: b"IC",
                server_kexinit: b"IS",
                host_key: b"KS",
                client_public: &[5],
                server_public: &[6],
                shared_secret: k.encoded(),
            },
            &GroupExchangeHashInput {
                request: GroupRequest {
                    min: 2048,
                    preferred: 3072,
                    max: 8192,
                },
                // The top bit set: the mpint gets a zero byte.
                p: &[0xff, 0x07],
                g: &[2],
            },
        );
        assert_eq!(hex(&h), PY_GEX_HASH);
    }

    /// Compile-time: the ephemeral secrets and shared secrets the crates
    /// hold wipe themselves on drop only with their `zeroize` features (or
    /// x25519-dalek's default ones); turning one off breaks this build.
    #[test]
    fn the_crates_secret_types_zeroize_on_drop() {
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        fn zeroizable<T: zeroize::Zeroize>() {}
        zeroized_on_drop::<x25519_dalek::StaticSecret>();
        zeroized_on_drop::<x25519_dalek::SharedSecret>();
        zeroized_on_drop::<p256::ecdh::EphemeralSecret>();
        zeroized_on_drop::<p384::ecdh::EphemeralSecret>();
        zeroized_on_drop::<p521::ecdh::EphemeralSecret>();
        zeroized_on_drop::<p256::ecdh::SharedSecret>();
        zeroized_on_drop::<p384::ecdh::SharedSecret>();
        zeroized_on_drop::<p521::ecdh::SharedSecret>();
        zeroized_on_drop::<<ml_kem::MlKem768 as ml_kem::Kem>::DecapsulationKey>();
        // DH: x is kept `Zeroizing`; the big integers are wiped by us.
        zeroizable::<crypto_bigint::U2048>();
    }

    const PY_GEX_HASH: &str = "fc1891546604d3572b6573a814d9fe666e7d2400ec38e51f521aa38a80178d6a";
    const PY_IV_A: &str = "07bbabcf64cf3916eb93d59f";
    const PY_KEY_C: &str = "0606bbebf781f8e3133eb6c446c2b74688898127c74d80319f46ab67746ae1f2";
    const PY_LONG_A: &str =
        "07bbabcf64cf3916eb93d59f7d0cbc7629a2a244ed289a36dc7a9a8a4314867b1365476f70990593";
    const PY_SHA512_D: &str = "4279c143238042a6ff2492922cf712f4a0f8039f55ee91c52ac7b00b83031ac7";
}
