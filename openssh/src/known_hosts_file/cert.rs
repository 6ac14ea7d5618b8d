//! Host certificates against the verifier's files (sshd(8)
//! SSH_KNOWN_HOSTS FILE FORMAT `@cert-authority` and `@revoked`; ssh's
//! sshconnect.c `check_host_key` with a certificate).
//!
//! Kept apart from the plain-key verdicts of the parent module. The
//! validity window is checked against the wall clock here; the check
//! itself is the core's ([`KnownHosts::check_certificate`]).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use conch_core::known_hosts::{CertVerdict, KnownHosts, Verdict};
use conch_core::PublicKey;
use conch_driver::HostKeyVerdict;

use super::KnownHostsVerifier;

/// Unix seconds now (0 if the clock is before 1970, which makes every
/// certificate with a start time not yet valid rather than valid).
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl KnownHostsVerifier {
    /// The verdict on a host certificate at `now` (Unix seconds):
    ///
    /// - `@revoked` for its CA or its key in any file: refused;
    /// - an `@cert-authority` line for the host naming its CA, and valid:
    ///   accepted; signed by such a CA but not valid (expired, not yet
    ///   valid, another host's, ...): refused with the reason, unless the
    ///   plain key is itself listed for the host (ssh then accepts the
    ///   plain key);
    /// - no such CA: the plain key is checked as any host key (as ssh
    ///   does: "No matching CA found. Retry with plain key").
    pub fn verify_certificate_at(
        &self,
        host: &str,
        port: u16,
        ip: Option<IpAddr>,
        key: &PublicKey,
        now: u64,
    ) -> HostKeyVerdict {
        let plain = key.plain_key();
        let mut refusal = None;
        for file in std::iter::once(&self.file).chain(&self.also) {
            // An unreadable file is warned about by the plain lookup.
            let entries = file.read().unwrap_or_else(|_| KnownHosts::new());
            match entries.check_certificate(host, port, key, now) {
                CertVerdict::Trusted { .. } => return HostKeyVerdict::Accept,
                CertVerdict::Refused { line, error } => {
                    let reason = format!("host certificate refused: {error} ({file}:{line})");
                    if matches!(error, conch_core::keys::CertificateError::Revoked { .. }) {
                        self.ui.warn(&format!("{reason}\n"));
                        return self.refuse(reason);
                    }
                    refusal.get_or_insert(reason);
                }
                CertVerdict::NoAuthority => {}
            }
        }
        match refusal {
            None => self.verify_at(host, port, ip, &plain),
            Some(reason) => {
                let (_, verdict, _) = self.lookup(host, port, ip, &plain);
                if matches!(verdict, Verdict::Known { .. }) {
                    return HostKeyVerdict::Accept;
                }
                self.ui.warn(&format!("{reason}\n"));
                self.refuse(reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use conch_core::PublicKey;
    use conch_driver::HostKeyVerdict;

    use crate::{KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier, NoUi};

    const CA: &str = include_str!("../testdata/ca.pub");
    const HOST: &str = include_str!("../testdata/host.pub");
    /// Signed by CA for server.example and 10.1.2.3, valid forever.
    const HOST_CERT: &str = include_str!("../testdata/host_h-cert.pub");
    const NOW: u64 = 1_748_736_000;

    fn verifier(text: &str, policy: KnownHostsPolicy) -> (KnownHostsVerifier, std::path::PathBuf) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "conch-known-hosts-cert-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).unwrap();
        let v = KnownHostsVerifier::new(KnownHostsFile::new(&path), policy, Arc::new(NoUi));
        (v, path)
    }

    fn verdict(text: &str, host: &str, policy: KnownHostsPolicy) -> HostKeyVerdict {
        let (v, path) = verifier(text, policy);
        let cert = PublicKey::from_openssh(HOST_CERT).unwrap();
        let verdict = v.verify_certificate_at(host, 22, None, &cert, NOW);
        let _ = std::fs::remove_file(path);
        verdict
    }

    fn reason(v: HostKeyVerdict) -> String {
        match v {
            HostKeyVerdict::Reject { reason } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_cert_authority_line_vouches_for_its_hosts() {
        let ca = CA.trim();
        let text = format!("@cert-authority *.example,10.1.2.3 {ca}\n");
        assert_eq!(
            verdict(&text, "server.example", KnownHostsPolicy::Strict),
            HostKeyVerdict::Accept
        );
        // Same CA and pattern, a name the certificate does not list.
        let why = reason(verdict(&text, "other.example", KnownHostsPolicy::Strict));
        assert!(why.contains("not a principal"), "{why}");
    }

    #[test]
    fn a_revoked_ca_refuses_even_with_the_plain_key_listed() {
        let ca = CA.trim();
        let host = HOST.trim();
        let text = format!("@cert-authority * {ca}\n@revoked * {ca}\nserver.example {host}\n");
        let why = reason(verdict(
            &text,
            "server.example",
            KnownHostsPolicy::AcceptNew,
        ));
        assert!(why.contains("revoked"), "{why}");
    }

    #[test]
    fn without_a_matching_ca_the_plain_key_decides() {
        let ca = CA.trim();
        let host = HOST.trim();
        // The CA is trusted for other hosts only; the plain key is known.
        let text = format!("@cert-authority *.other {ca}\nserver.example {host}\n");
        assert_eq!(
            verdict(&text, "server.example", KnownHostsPolicy::Strict),
            HostKeyVerdict::Accept
        );
        // Neither: strict checking refuses the unknown plain key.
        let text = format!("@cert-authority *.other {ca}\n");
        let why = reason(verdict(&text, "server.example", KnownHostsPolicy::Strict));
        assert!(why.contains("no host key is known"), "{why}");
    }
}
