//! `cert-authority` lines (sshd(8) AUTHORIZED_KEYS FILE FORMAT): the key on
//! the line is a CA trusted to sign user certificates for this account,
//! optionally only those naming one of `principals="..."`.

use std::net::IpAddr;

use conch_core::keys::{CertificateError, UserCertificatePolicy};
use conch_core::PublicKey;

use super::{constant_time_eq, AuthorizedKey, AuthorizedKeys};

impl AuthorizedKeys {
    /// The `cert-authority` line that accepts the user certificate `key`
    /// for `user` at `now` (Unix seconds) from `source`: its CA signed the
    /// certificate, and the certificate is valid (see
    /// [`PublicKey::check_user_certificate`]). With `principals="a,b"` one
    /// of the certificate's principals must be listed there; without, the
    /// user name must be one of them, as sshd checks
    /// (auth2-pubkeyfile.c `auth_check_authkey_line`).
    ///
    /// Errors say why the last candidate line refused it, or
    /// [`CertificateError::UnknownCa`] when no line names its CA.
    pub fn find_certificate_authority(
        &self,
        user: &str,
        key: &PublicKey,
        now: u64,
        source: Option<IpAddr>,
    ) -> Result<&AuthorizedKey, CertificateError> {
        let Some(cert) = key.certificate() else {
            return Err(CertificateError::NotACertificate);
        };
        let ca_blob = cert.signature_key().blob();
        let mut refusal = CertificateError::UnknownCa {
            fingerprint: cert.signature_key().fingerprint(),
        };
        for entry in self.keys() {
            if !entry.has_option("cert-authority") || !constant_time_eq(entry.key().blob(), ca_blob)
            {
                continue;
            }
            let principals: Option<Vec<String>> = entry
                .option("principals")
                .flatten()
                .map(|list| list.split(',').map(|p| p.trim().to_string()).collect());
            let cas = [entry.key().clone()];
            let policy = UserCertificatePolicy {
                trusted_cas: &cas,
                revoked: &[],
                user,
                authorized_principals: principals.as_deref(),
                now,
                source,
            };
            match key.check_user_certificate(&policy) {
                Ok(_) => return Ok(entry),
                Err(e) => refusal = e,
            }
        }
        Err(refusal)
    }
}

#[cfg(test)]
mod tests {
    use conch_core::keys::CertificateError;
    use conch_core::PublicKey;

    use crate::AuthorizedKeys;

    const CA: &str = include_str!("../testdata/ca.pub");
    /// Principals alice and bob, forever.
    const CERT: &str = include_str!("../testdata/user_forever-cert.pub");
    /// Principal alice, force-command /bin/true, source 10.0.0.0/8 and
    /// 192.168.1.5.
    const OPTS: &str = include_str!("../testdata/user_opts-cert.pub");
    const NOW: u64 = 1_748_736_000;

    fn cert(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    #[test]
    fn a_cert_authority_line_accepts_its_certificates_for_a_listed_user() {
        let keys = AuthorizedKeys::parse(&format!("cert-authority {}", CA.trim()));
        let entry = keys
            .find_certificate_authority("bob", &cert(CERT), NOW, None)
            .unwrap();
        assert_eq!(entry.line(), 1);
        assert!(matches!(
            keys.find_certificate_authority("carol", &cert(CERT), NOW, None),
            Err(CertificateError::WrongPrincipal { .. })
        ));
        // The CA key itself does not log in.
        assert!(keys.find(&PublicKey::from_openssh(CA).unwrap()).is_none());
    }

    #[test]
    fn principals_option_replaces_the_user_name() {
        let keys = AuthorizedKeys::parse(&format!(
            "cert-authority,principals=\"ops,bob\" {}",
            CA.trim()
        ));
        // Any account, since "bob" is a principal the line allows.
        assert!(keys
            .find_certificate_authority("root", &cert(CERT), NOW, None)
            .is_ok());
        let keys =
            AuthorizedKeys::parse(&format!("cert-authority,principals=\"ops\" {}", CA.trim()));
        assert!(matches!(
            keys.find_certificate_authority("alice", &cert(CERT), NOW, None),
            Err(CertificateError::WrongPrincipal { .. })
        ));
    }

    #[test]
    fn a_plain_line_for_the_ca_is_not_a_cert_authority_and_source_address_is_checked() {
        let plain = AuthorizedKeys::parse(CA);
        assert!(matches!(
            plain.find_certificate_authority("alice", &cert(CERT), NOW, None),
            Err(CertificateError::UnknownCa { .. })
        ));
        let keys = AuthorizedKeys::parse(&format!("cert-authority {}", CA.trim()));
        let from = |a: &str| Some(a.parse().unwrap());
        assert!(keys
            .find_certificate_authority("alice", &cert(OPTS), NOW, from("10.2.3.4"))
            .is_ok());
        assert!(matches!(
            keys.find_certificate_authority("alice", &cert(OPTS), NOW, from("172.16.0.1")),
            Err(CertificateError::SourceAddress { .. })
        ));
    }
}
