//! conchd's user certificates (PROTOCOL.certkeys): accepted when signed by
//! a CA of `--trusted-user-ca-keys` (sshd's `TrustedUserCAKeys`) or of a
//! `cert-authority` line of the authorized_keys file, checked against the
//! clock now and the client's address; a certificate's `force-command`
//! then replaces whatever the client asks to run.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use conch_core::keys::{CertificateError, UserCertificatePolicy};
use conch_core::known_hosts::key_type_label;
use conch_core::{AuthDecision, PublicKey};
use conch_tokio::{IncomingChannel, SessionCommand};

/// The `force-command` of each connection that logged in with a
/// certificate carrying one, by the client's address (which names one TCP
/// connection while it lasts).
#[derive(Clone, Default)]
pub(crate) struct ForcedCommands(Arc<Mutex<HashMap<SocketAddr, String>>>);

impl ForcedCommands {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, peer: Option<SocketAddr>, command: Option<&str>) {
        let Some(peer) = peer else { return };
        match command {
            Some(c) => self.map().insert(peer, c.to_string()),
            None => self.map().remove(&peer),
        };
    }

    /// Replaces the command of a channel of the connection from `peer` by
    /// its forced command, as sshd does (the client's request, exec, shell
    /// or subsystem, is kept in `SSH_ORIGINAL_COMMAND`).
    pub(crate) fn apply<C>(&self, peer: SocketAddr, incoming: &mut IncomingChannel<C>) {
        let Some(forced) = self.map().get(&peer).cloned() else {
            return;
        };
        if let SessionCommand::Exec(original) = &incoming.command {
            let original = String::from_utf8_lossy(original).into_owned();
            incoming
                .env
                .push(("SSH_ORIGINAL_COMMAND".to_string(), original));
        }
        incoming.command = SessionCommand::Exec(forced.into_bytes());
    }

    /// The connection from `peer` ended.
    pub(crate) fn forget(&self, peer: SocketAddr) {
        self.map().remove(&peer);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl crate::server::Authenticator {
    /// A publickey attempt with a certificate.
    pub(crate) fn certificate_decision(
        &self,
        peer: Option<SocketAddr>,
        user: &str,
        key: &PublicKey,
        signed: bool,
    ) -> AuthDecision {
        let now = unix_now();
        let source = peer.map(|p| p.ip());
        let policy = UserCertificatePolicy {
            trusted_cas: self.trusted_user_cas(),
            revoked: &[],
            user,
            authorized_principals: None,
            now,
            source,
        };
        let by_trusted = key.check_user_certificate(&policy).map(|_| ());
        let result = match by_trusted {
            Ok(()) => Ok(()),
            Err(CertificateError::UnknownCa { .. }) => self
                .authorized_keys()
                .find_certificate_authority(user, key, now, source)
                .map(|_| ()),
            Err(e) => Err(e),
        };
        let Some(cert) = key.certificate() else {
            return AuthDecision::Reject;
        };
        match result {
            Ok(()) => {
                if signed {
                    let ca = cert.signature_key();
                    self.log(&format!(
                        "Accepted publickey for {user}: {} {} ID {} (serial {}) CA {} {}",
                        key_type_label(key),
                        key.fingerprint(),
                        cert.key_id(),
                        cert.serial(),
                        key_type_label(ca),
                        ca.fingerprint()
                    ));
                    self.forced().set(peer, cert.force_command());
                }
                AuthDecision::Accept
            }
            Err(e) => {
                self.log(&format!(
                    "Refused certificate ID {} (serial {}) for {user}: {e}",
                    cert.key_id(),
                    cert.serial()
                ));
                AuthDecision::Reject
            }
        }
    }
}
