//! OpenSSH certificates (PROTOCOL.certkeys): a user or host key signed by a
//! certificate authority, with the names it is valid for and a validity
//! window.
//!
//! The format is decoded by the `ssh-key` crate. Everything here is pure:
//! validity is checked against a time the caller passes in, and a
//! `source-address` against the address the caller saw.

use core::net::IpAddr;
use std::fmt;

use ssh_key::certificate::CertType;

use super::{KeyError, PublicKey};
use crate::wire::Reader;

/// The certificate key types and the plain signature algorithm each is
/// used with (PROTOCOL.certkeys; RSA certificates signed with SHA-2 are the
/// `rsa-sha2-*-cert-v01` names of OpenSSH 7.8).
pub(crate) const CERT_ALGORITHMS: &[(&str, &str)] = &[
    ("ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519"),
    (
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256",
    ),
    (
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384",
    ),
    (
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521",
    ),
    ("rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-512"),
    ("rsa-sha2-256-cert-v01@openssh.com", "rsa-sha2-256"),
    ("ssh-rsa-cert-v01@openssh.com", "ssh-rsa"),
    (
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519@openssh.com",
    ),
    (
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ),
];

/// The plain signature algorithm of `algorithm`: the signature inside a
/// certificate algorithm's blob is made by the certified key and named
/// plainly (`rsa-sha2-512-cert-v01@openssh.com` signs as `rsa-sha2-512`).
/// Other names are returned unchanged.
pub fn plain_signature_algorithm(algorithm: &str) -> &str {
    CERT_ALGORITHMS
        .iter()
        .find(|(cert, _)| *cert == algorithm)
        .map_or(algorithm, |(_, plain)| plain)
}

/// The certificate algorithm of a plain signature algorithm, if it has one.
pub(crate) fn certificate_algorithm(plain: &str) -> Option<&'static str> {
    CERT_ALGORITHMS
        .iter()
        .find(|(_, p)| *p == plain)
        .map(|(cert, _)| *cert)
}

/// Whether `name` is a certificate key type or signature algorithm.
pub fn is_certificate_algorithm(name: &str) -> bool {
    name.ends_with("-cert-v01@openssh.com")
}

/// Signature algorithms a CA may have signed a certificate with: OpenSSH's
/// default `CASignatureAlgorithms` (ssh_config(5), sshd_config(5)), which
/// leaves out the SHA-1 `ssh-rsa`.
const CA_SIGNATURE_ALGORITHMS: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

/// Whether a certificate is for a user or a host (PROTOCOL.certkeys `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateType {
    /// `SSH2_CERT_TYPE_USER` (1): authenticates a user to a server.
    User,
    /// `SSH2_CERT_TYPE_HOST` (2): authenticates a server to a client.
    Host,
}

impl fmt::Display for CertificateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertificateType::User => "user",
            CertificateType::Host => "host",
        })
    }
}

/// Why a certificate was refused. Each is a separate cause so an
/// application (and a test) can tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The key is a plain key, not a certificate.
    #[error("the key is not a certificate")]
    NotACertificate,
    /// A user certificate offered as a host's, or the reverse.
    #[error("a {found} certificate where a {expected} certificate is needed")]
    WrongType {
        /// What was needed.
        expected: CertificateType,
        /// What the certificate is.
        found: CertificateType,
    },
    /// No trusted certificate authority signed it.
    #[error("the certificate is signed by an unknown CA ({fingerprint})")]
    UnknownCa {
        /// The CA key's fingerprint.
        fingerprint: String,
    },
    /// The CA or the certified key is marked revoked.
    #[error("the certificate's {what} is revoked")]
    Revoked {
        /// `"CA key"` or `"key"`.
        what: &'static str,
    },
    /// The CA's signature does not verify.
    #[error("the CA signature on the certificate does not verify")]
    BadSignature,
    /// The CA signed with an algorithm not accepted (such as SHA-1 `ssh-rsa`).
    #[error("the certificate is signed with {0}, which is not accepted for CAs")]
    CaSignatureAlgorithm(String),
    /// `now` is before `valid after`.
    #[error("the certificate is not yet valid (valid after {valid_after}, now {now})")]
    NotYetValid {
        /// The certificate's start, Unix seconds.
        valid_after: u64,
        /// The time checked, Unix seconds.
        now: u64,
    },
    /// `now` is at or past `valid before`.
    #[error("the certificate has expired (valid before {valid_before}, now {now})")]
    Expired {
        /// The certificate's end, Unix seconds.
        valid_before: u64,
        /// The time checked, Unix seconds.
        now: u64,
    },
    /// The name is not among the certificate's principals.
    #[error("{name:?} is not a principal of the certificate (principals: {principals:?})")]
    WrongPrincipal {
        /// The user or host name checked.
        name: String,
        /// The certificate's principals.
        principals: Vec<String>,
    },
    /// A user certificate without principals, where one is required.
    #[error("the certificate lists no principals")]
    NoPrincipals,
    /// A critical option this implementation does not know: the
    /// certificate must then be refused (PROTOCOL.certkeys).
    #[error("the certificate has an unsupported critical option {0:?}")]
    UnsupportedCriticalOption(String),
    /// The connection's source address is not in `source-address`.
    #[error("source address {address} is not allowed by the certificate ({allowed})")]
    SourceAddress {
        /// The address connected from (`None`: not known to the checker).
        address: String,
        /// The certificate's `source-address` list.
        allowed: String,
    },
}

/// A decoded certificate: the certified key with the CA's assertions about
/// it. Held inside a [`PublicKey`] whose blob is the whole certificate
/// ([`PublicKey::certificate`]).
#[derive(Clone)]
pub struct Certificate {
    inner: ssh_key::Certificate,
    /// The window as the blob has it (`u64::MAX` is OpenSSH's "forever"),
    /// read by Conch's own reader as the signed bytes are.
    valid_after: u64,
    valid_before: u64,
    ca: PublicKey,
    /// The bytes the CA signed (everything before the signature field).
    signed_len: usize,
    signature: Vec<u8>,
}

impl Certificate {
    /// Decodes a certificate blob (`string "...-cert-v01@openssh.com"`,
    /// nonce, key fields, ... signature key, signature).
    pub(crate) fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        let bad = |what: &str| KeyError::Encoding(format!("certificate: {what}"));
        let mut r = Reader::new(blob);
        let name = r.ascii().map_err(|_| bad("type"))?;
        let key_fields =
            key_field_count(name).ok_or_else(|| KeyError::Unsupported(name.to_string()))?;
        r.string().map_err(|_| bad("nonce"))?;
        for _ in 0..key_fields {
            r.string().map_err(|_| bad("key"))?;
        }
        r.u64().map_err(|_| bad("serial"))?;
        r.u32().map_err(|_| bad("type"))?;
        r.string().map_err(|_| bad("key id"))?;
        r.string().map_err(|_| bad("principals"))?;
        let valid_after = r.u64().map_err(|_| bad("valid after"))?;
        let valid_before = r.u64().map_err(|_| bad("valid before"))?;
        r.string().map_err(|_| bad("critical options"))?;
        r.string().map_err(|_| bad("extensions"))?;
        r.string().map_err(|_| bad("reserved"))?;
        let ca_blob = r.string().map_err(|_| bad("signature key"))?;
        let signed_len = blob.len() - r.remaining().len();
        let signature = r.string().map_err(|_| bad("signature"))?.to_vec();
        r.end().map_err(|_| bad("trailing bytes"))?;

        // OpenSSH writes u64::MAX for "forever" (ssh-keygen without -V),
        // which ssh-key 0.7 decodes (0.6 refused times past i64::MAX, and
        // Conch decoded a copy with the times clamped).
        let inner = ssh_key::Certificate::from_bytes(blob)
            .map_err(|e| KeyError::Encoding(format!("certificate: {e}")))?;

        let ca = PublicKey::from_blob(ca_blob)?;
        // PROTOCOL.certkeys: the signature key may not itself be a certificate.
        if ca.certificate().is_some() {
            return Err(bad("signed by a certificate"));
        }
        Ok(Certificate {
            inner,
            valid_after,
            valid_before,
            ca,
            signed_len,
            signature,
        })
    }

    /// The certified key's data.
    pub(crate) fn inner_key(&self) -> &ssh_key::public::KeyData {
        self.inner.public_key()
    }

    /// User or host.
    pub fn cert_type(&self) -> CertificateType {
        match self.inner.cert_type() {
            CertType::User => CertificateType::User,
            CertType::Host => CertificateType::Host,
        }
    }

    /// The CA's serial number for it.
    pub fn serial(&self) -> u64 {
        self.inner.serial()
    }

    /// The key identifier the CA wrote (`ssh-keygen -I`), for logs.
    pub fn key_id(&self) -> &str {
        self.inner.key_id()
    }

    /// The user or host names it is valid for; empty means any
    /// (`ssh-keygen -n`).
    pub fn principals(&self) -> &[String] {
        self.inner.valid_principals()
    }

    /// Start of validity, Unix seconds (0: always).
    pub fn valid_after(&self) -> u64 {
        self.valid_after
    }

    /// End of validity, Unix seconds, exclusive (`u64::MAX`: forever).
    pub fn valid_before(&self) -> u64 {
        self.valid_before
    }

    /// The critical options, name and value (PROTOCOL.certkeys "Critical
    /// options"), in the certificate's order.
    pub fn critical_options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.inner
            .critical_options()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The extensions, name and value (`permit-pty`, ...).
    pub fn extensions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.inner
            .extensions()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether the extension `name` is present (`permit-pty`, ...).
    pub fn has_extension(&self, name: &str) -> bool {
        self.inner.extensions().contains_key(name)
    }

    /// The `force-command` critical option: the command the server must
    /// run whatever the client asks.
    pub fn force_command(&self) -> Option<&str> {
        self.inner
            .critical_options()
            .get("force-command")
            .map(String::as_str)
    }

    /// The `source-address` critical option: comma-separated addresses
    /// and CIDR ranges the certificate may be used from.
    pub fn source_address(&self) -> Option<&str> {
        self.inner
            .critical_options()
            .get("source-address")
            .map(String::as_str)
    }

    /// The CA key that signed it.
    pub fn signature_key(&self) -> &PublicKey {
        &self.ca
    }

    /// Checks the CA's signature over the certificate. `signed` is the
    /// certificate's whole blob (the certified [`PublicKey::blob`]).
    fn check_signature(&self, blob: &[u8]) -> Result<(), CertificateError> {
        let mut r = Reader::new(&self.signature);
        let algorithm = r
            .ascii()
            .map_err(|_| CertificateError::BadSignature)?
            .to_string();
        if !CA_SIGNATURE_ALGORITHMS.contains(&algorithm.as_str()) {
            return Err(CertificateError::CaSignatureAlgorithm(algorithm));
        }
        let signed = blob
            .get(..self.signed_len)
            .ok_or(CertificateError::BadSignature)?;
        if self.ca.verify(&algorithm, signed, &self.signature) {
            Ok(())
        } else {
            Err(CertificateError::BadSignature)
        }
    }

    /// The checks common to both types: type, signature, validity window.
    fn check_common(
        &self,
        blob: &[u8],
        expected: CertificateType,
        now: u64,
    ) -> Result<(), CertificateError> {
        if self.cert_type() != expected {
            return Err(CertificateError::WrongType {
                expected,
                found: self.cert_type(),
            });
        }
        self.check_signature(blob)?;
        if now < self.valid_after {
            return Err(CertificateError::NotYetValid {
                valid_after: self.valid_after,
                now,
            });
        }
        if now >= self.valid_before {
            return Err(CertificateError::Expired {
                valid_before: self.valid_before,
                now,
            });
        }
        Ok(())
    }

    fn principal_listed(&self, name: &str) -> bool {
        self.principals().iter().any(|p| p == name)
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("type", &self.cert_type())
            .field("key_id", &self.key_id())
            .field("serial", &self.serial())
            .field("principals", &self.principals())
            .field("valid_after", &self.valid_after)
            .field("valid_before", &self.valid_before)
            .field("ca", &self.ca)
            .finish()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
            && self.valid_after == other.valid_after
            && self.valid_before == other.valid_before
    }
}

impl Eq for Certificate {}

/// How many `string`/`mpint` fields the certified key has inside a
/// certificate of type `name` (PROTOCOL.certkeys; the sk types add the
/// application string, PROTOCOL.u2f).
fn key_field_count(name: &str) -> Option<usize> {
    Some(match name {
        "ssh-ed25519-cert-v01@openssh.com" => 1,
        "ecdsa-sha2-nistp256-cert-v01@openssh.com"
        | "ecdsa-sha2-nistp384-cert-v01@openssh.com"
        | "ecdsa-sha2-nistp521-cert-v01@openssh.com" => 2,
        "ssh-rsa-cert-v01@openssh.com" => 2,
        "sk-ssh-ed25519-cert-v01@openssh.com" => 2,
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com" => 3,
        _ => return None,
    })
}

/// What a server checks a user certificate against (sshd_config(5)
/// `TrustedUserCAKeys`, `AuthorizedPrincipalsFile`; sshd(8)
/// `cert-authority` in authorized_keys).
#[derive(Debug, Clone)]
pub struct UserCertificatePolicy<'a> {
    /// The CA keys trusted to sign user certificates.
    pub trusted_cas: &'a [PublicKey],
    /// CA or certified keys refused whatever else (sshd's `RevokedKeys`).
    pub revoked: &'a [PublicKey],
    /// The user name logging in.
    pub user: &'a str,
    /// When set, one of the certificate's principals must be in this list
    /// (an `AuthorizedPrincipalsFile`, or `principals="..."` of a
    /// `cert-authority` line) instead of being the user name.
    pub authorized_principals: Option<&'a [String]>,
    /// The time to check the validity window against, Unix seconds.
    pub now: u64,
    /// The address the client connected from, for `source-address`. A
    /// certificate with that option is refused when this is `None`.
    pub source: Option<IpAddr>,
}

impl PublicKey {
    /// Checks a user certificate as sshd does before accepting it
    /// (auth2-pubkey.c): type user, a trusted CA and a valid signature,
    /// the validity window, the principals, the critical options. The
    /// accepted certificate is returned; the application then honours its
    /// [`Certificate::force_command`].
    pub fn check_user_certificate(
        &self,
        policy: &UserCertificatePolicy<'_>,
    ) -> Result<&Certificate, CertificateError> {
        let cert = self
            .certificate()
            .ok_or(CertificateError::NotACertificate)?;
        if policy.revoked.iter().any(|k| k.blob() == cert.ca.blob()) {
            return Err(CertificateError::Revoked { what: "CA key" });
        }
        if policy
            .revoked
            .iter()
            .any(|k| k.certificate().is_none() && *k == self.plain_key())
        {
            return Err(CertificateError::Revoked { what: "key" });
        }
        if !policy
            .trusted_cas
            .iter()
            .any(|k| k.blob() == cert.ca.blob())
        {
            return Err(CertificateError::UnknownCa {
                fingerprint: cert.ca.fingerprint(),
            });
        }
        cert.check_common(self.blob(), CertificateType::User, policy.now)?;
        match policy.authorized_principals {
            Some(list) => {
                if !cert.principals().iter().any(|p| list.contains(p)) {
                    return Err(CertificateError::WrongPrincipal {
                        name: list.join(","),
                        principals: cert.principals().to_vec(),
                    });
                }
            }
            None => {
                // sshd requires a principal list for TrustedUserCAKeys
                // (sshkey_cert_check_authority with require_principal).
                if cert.principals().is_empty() {
                    return Err(CertificateError::NoPrincipals);
                }
                if !cert.principal_listed(policy.user) {
                    return Err(CertificateError::WrongPrincipal {
                        name: policy.user.to_string(),
                        principals: cert.principals().to_vec(),
                    });
                }
            }
        }
        // PROTOCOL.certkeys: an unrecognised critical option must refuse
        // the certificate. OpenSSH knows these three.
        for (name, value) in cert.critical_options() {
            match name {
                "force-command" | "verify-required" => {}
                "source-address" => check_source_address(value, policy.source)?,
                other => return Err(CertificateError::UnsupportedCriticalOption(other.into())),
            }
        }
        Ok(cert)
    }

    /// Checks a host certificate signed by `ca` (an `@cert-authority`
    /// key for this host) as ssh does (sshconnect.c `check_host_cert`):
    /// type host, the CA's signature, the validity window, `host` among the
    /// principals (an empty list allows any host), and no critical options
    /// (none are defined for host certificates).
    pub fn check_host_certificate(
        &self,
        ca: &PublicKey,
        host: &str,
        now: u64,
    ) -> Result<&Certificate, CertificateError> {
        let cert = self
            .certificate()
            .ok_or(CertificateError::NotACertificate)?;
        if cert.ca.blob() != ca.blob() {
            return Err(CertificateError::UnknownCa {
                fingerprint: cert.ca.fingerprint(),
            });
        }
        cert.check_common(self.blob(), CertificateType::Host, now)?;
        if !cert.principals().is_empty() && !cert.principal_listed(host) {
            return Err(CertificateError::WrongPrincipal {
                name: host.to_string(),
                principals: cert.principals().to_vec(),
            });
        }
        if let Some((name, _)) = cert.critical_options().next() {
            return Err(CertificateError::UnsupportedCriticalOption(name.into()));
        }
        Ok(cert)
    }
}

/// `source-address`: a comma-separated list of addresses and CIDR ranges
/// (PROTOCOL.certkeys); the address must be in one of them.
fn check_source_address(list: &str, source: Option<IpAddr>) -> Result<(), CertificateError> {
    let refuse = |address: String| CertificateError::SourceAddress {
        address,
        allowed: list.to_string(),
    };
    let Some(source) = source else {
        return Err(refuse("unknown".into()));
    };
    if list
        .split(',')
        .any(|item| cidr_contains(item.trim(), source))
    {
        Ok(())
    } else {
        Err(refuse(source.to_string()))
    }
}

/// Whether `source` is in `item`, an address or `address/bits`. An
/// unparsable item matches nothing.
pub(crate) fn cidr_contains(item: &str, source: IpAddr) -> bool {
    let (addr, bits) = match item.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(bits) => (a, Some(bits)),
            Err(_) => return false,
        },
        None => (item, None),
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    // An IPv4 peer seen through an IPv6 socket as ::ffff:a.b.c.d.
    let source = match source {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(source, IpAddr::V4),
        v4 => v4,
    };
    match (addr, source) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            prefix_match(&net.octets(), &ip.octets(), bits.unwrap_or(32))
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            prefix_match(&net.octets(), &ip.octets(), bits.unwrap_or(128))
        }
        _ => false,
    }
}

fn prefix_match(net: &[u8], ip: &[u8], bits: u32) -> bool {
    let total = u32::try_from(net.len() * 8).unwrap_or(0);
    if bits > total {
        return false;
    }
    let mut left = bits;
    for (n, i) in net.iter().zip(ip) {
        if left == 0 {
            break;
        }
        let take = left.min(8);
        let mask = (0xffu16 << (8 - take)) as u8;
        if n & mask != i & mask {
            return false;
        }
        left -= take;
    }
    true
}

#[cfg(test)]
#[path = "certificate_tests.rs"]
mod tests;
