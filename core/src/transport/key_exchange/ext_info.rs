//! SSH_MSG_EXT_INFO (RFC 8308): the server sends `server-sig-algs` right
//! after its first NEWKEYS when the client offered `ext-info-c`; a client
//! keeps what the server sent.

use rand_core::CryptoRng;

use crate::error::Error;
use crate::msg;
use crate::transport::{Side, Transport};
use crate::wire::{Encode, Reader};

use super::transitions::unexpected;

/// Most `server-sig-algs` names kept from EXT_INFO.
pub(crate) const MAX_SERVER_SIG_ALGS: usize = 64;

impl Transport {
    /// Server: SSH_MSG_EXT_INFO right after our first NEWKEYS (RFC 8308
    /// section 2.4) with the signature algorithms we verify in user auth.
    pub(super) fn send_ext_info(&mut self, rng: &mut dyn CryptoRng) {
        // What user authentication accepts: every key type's signature
        // algorithms but the legacy SHA-1 `ssh-rsa`, which it never accepts.
        // Certificates are accepted too, and listed by the plain algorithm
        // they sign with, as sshd lists them (kex.c: `sshkey_alg_list` with
        // plain names only): clients match a certificate's plain name
        // (OpenSSH's sshconnect2.c `key_sig_algorithm`, and Conch's).
        let names: Vec<&str> = self
            .config
            .crypto
            .signature
            .iter()
            .map(|a| a.name())
            .filter(|n| !crate::crypto::is_legacy(n) && !crate::keys::is_certificate_algorithm(n))
            .collect();
        let mut p = Vec::with_capacity(64);
        p.put_u8(msg::EXT_INFO);
        p.put_u32(1);
        p.put_str("server-sig-algs");
        p.put_name_list(&names);
        self.tx.send(&p, Some(rng));
    }

    /// SSH_MSG_EXT_INFO in (RFC 8308 section 2.3). A client keeps
    /// `server-sig-algs`; a later EXT_INFO (before USERAUTH_SUCCESS,
    /// section 2.4) replaces it. A server has no use for the client's.
    pub(in crate::transport) fn on_ext_info(&mut self, payload: &[u8]) -> Result<(), Error> {
        if !self.kex.first_done() {
            return Err(unexpected(msg::EXT_INFO, "before the first key exchange"));
        }
        if self.side == Side::Server {
            return Ok(());
        }
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let count = r.u32()?;
        for _ in 0..count {
            let name = r.string()?;
            let value = r.string()?;
            if name == b"server-sig-algs" {
                // Lenient: skip empty or non-ASCII names rather than fail.
                let algs = value
                    .split(|&b| b == b',')
                    .filter(|n| !n.is_empty() && n.is_ascii())
                    .take(MAX_SERVER_SIG_ALGS)
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect();
                self.server_sig_algs = Some(algs);
            }
        }
        Ok(())
    }
}
