//! Host certificates against `@cert-authority` and `@revoked` lines
//! (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT; ssh's sshconnect.c
//! `check_host_key` with a certificate).

use super::{host_name, KnownHosts, Lookup, Marker};
use crate::keys::{CertificateError, PublicKey};

/// The verdict on a host certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertVerdict {
    /// An `@cert-authority` line for the host names the CA that signed it,
    /// and the certificate is valid for the host now.
    Trusted {
        /// The `@cert-authority` line (1-based).
        line: usize,
    },
    /// Refused, and why: a revoked CA or key, or a certificate that a
    /// trusted CA signed but that is not valid for this host now.
    Refused {
        /// The line that decided (`@revoked` or `@cert-authority`).
        line: usize,
        /// The cause.
        error: CertificateError,
    },
    /// No `@cert-authority` line for the host names the certificate's CA:
    /// check the plain key ([`PublicKey::plain_key`]) with
    /// [`KnownHosts::check`] instead, as ssh does.
    NoAuthority,
}

impl KnownHosts {
    /// Checks a host certificate presented by `host` on `port` at `now`
    /// (Unix seconds; the caller's clock): `@revoked` for the CA key or the
    /// certified key first, then the `@cert-authority` lines whose
    /// patterns match the host, whose key must be the certificate's CA.
    /// The principal checked is `host` (without the port), as ssh does.
    /// A key that is not a certificate is [`CertVerdict::NoAuthority`].
    pub fn check_certificate(
        &self,
        host: &str,
        port: u16,
        key: &PublicKey,
        now: u64,
    ) -> CertVerdict {
        let Some(cert) = key.certificate() else {
            return CertVerdict::NoAuthority;
        };
        let lookup = Lookup::new(host, port, None);
        let names = std::iter::once(&lookup.name).chain(lookup.portless.as_ref());
        let plain = key.plain_key();
        for name in names {
            for e in self.matching(name, Some(Marker::Revoked)) {
                let what = if e.blob == cert.signature_key().blob() {
                    "CA key"
                } else if e.blob == plain.blob() || e.blob == key.blob() {
                    "key"
                } else {
                    continue;
                };
                return CertVerdict::Refused {
                    line: e.line,
                    error: CertificateError::Revoked { what },
                };
            }
        }
        let name = host_name(host, port);
        let ca = self
            .matching(&name, Some(Marker::CertAuthority))
            .find(|e| e.blob == cert.signature_key().blob());
        let Some(entry) = ca else {
            return CertVerdict::NoAuthority;
        };
        match key.check_host_certificate(cert.signature_key(), host, now) {
            Ok(_) => CertVerdict::Trusted { line: entry.line },
            Err(error) => CertVerdict::Refused {
                line: entry.line,
                error,
            },
        }
    }
}
