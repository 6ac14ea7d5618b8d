//! The scripted peer: an SSH endpoint built from the core's public pieces
//! (see the parent module).

use conch_core::cipher::{NoneOpener, NoneSealer, AES128_GCM};
use conch_core::crypto::{
    CipherAlgorithm, KexAlgorithm, KexEphemeral, PacketOpener, PacketSealer, SignatureAlgorithm,
    SSH_ED25519,
};
use conch_core::kex::{derive_key, exchange_hash, ExchangeHashInput, CURVE25519_SHA256};
use conch_core::msg;
use conch_core::wire::{Encode, Reader};
use conch_core::{ClientConfig, DisconnectReason, Error, PrivateKey, ServerConfig, Side};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::{ed25519, Victim, PEER_IDENT, USER};

// ----------------------------------------------------------------------

/// Name-lists for a KEXINIT (RFC 4253 section 7.1), one list per slot and
/// the same in both directions.
#[derive(Debug, Clone)]
pub struct KexLists {
    /// Key exchange methods (markers are added by the peer).
    pub kex: Vec<String>,
    /// Host key algorithms.
    pub host_key: Vec<String>,
    /// Ciphers.
    pub cipher: Vec<String>,
    /// MACs.
    pub mac: Vec<String>,
    /// Compression.
    pub compression: Vec<String>,
}

impl Default for KexLists {
    /// What the peer implements: curve25519-sha256, ssh-ed25519,
    /// aes128-gcm@openssh.com, no MAC (AEAD), no compression.
    fn default() -> Self {
        let v = |s: &str| vec![s.to_string()];
        KexLists {
            kex: v(CURVE25519_SHA256.name()),
            host_key: v(SSH_ED25519.name()),
            cipher: v(AES128_GCM.name()),
            mac: v("hmac-sha2-256"),
            compression: v("none"),
        }
    }
}

/// A decrypted packet from the victim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Its sequence number.
    pub seq: u32,
    /// The payload, message number first.
    pub payload: Vec<u8>,
}

impl Packet {
    /// The message number.
    pub fn msg(&self) -> u8 {
        self.payload.first().copied().unwrap_or(0)
    }
}

/// The reason code and description of a DISCONNECT payload.
pub fn parse_disconnect(payload: &[u8]) -> Option<(DisconnectReason, String)> {
    let mut r = Reader::new(payload);
    if r.u8().ok()? != msg::DISCONNECT {
        return None;
    }
    let reason = DisconnectReason::from_code(r.u32().ok()?);
    let text = String::from_utf8_lossy(r.string().ok()?).into_owned();
    Some((reason, text))
}

/// How far the scripted handshake has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Identification and KEXINIT exchanged or under way.
    Kex,
    /// Both NEWKEYS are through.
    Encrypted,
    /// The user is logged in.
    Authenticated,
}

/// The scripted peer. See the module documentation.
pub struct Peer {
    /// The peer's own role (the victim has the other one).
    pub role: Side,
    rng: ChaCha20Rng,
    /// Server: the host key we prove (swap it to change keys on a rekey).
    pub host_key: PrivateKey,
    /// We sent the KEXINIT of the re-exchange in progress.
    rekey_kexinit_sent: bool,
    /// Offer strict kex (`kex-strict-*-v00@openssh.com`).
    pub strict_kex: bool,
    /// The lists of our first KEXINIT.
    pub lists: KexLists,
    /// The packet cipher we implement (and offer alone).
    pub cipher: &'static dyn CipherAlgorithm,
    /// Server: send this blob as the host key instead of our key's.
    pub host_key_blob_override: Option<Vec<u8>>,
    /// Server: flip a bit of the exchange hash signature.
    pub corrupt_signature: bool,
    /// Server: send a second KEXINIT between our reply and our NEWKEYS
    /// (RFC 4253 section 7.1 allows one per exchange).
    pub kexinit_before_newkeys: bool,
    /// Do the user authentication part by ourselves (client: send a
    /// password request; server: accept any request).
    pub auto_auth: bool,
    /// Stop answering kex messages (for tests that script them by hand).
    pub manual: bool,
    /// Whether strict kex is in force.
    pub strict: bool,
    pub stage: Stage,
    victim_ident: Option<Vec<u8>>,
    our_kexinit: Vec<u8>,
    victim_kexinit: Option<Vec<u8>>,
    ephemeral: Option<Box<dyn KexEphemeral>>,
    session_id: Option<Vec<u8>>,
    next_sealer: Option<Box<dyn PacketSealer>>,
    next_opener: Option<Box<dyn PacketOpener>>,
    sealer: Box<dyn PacketSealer>,
    opener: Box<dyn PacketOpener>,
    /// Sequence number of our next packet.
    pub tx_seq: u32,
    /// Sequence number of the victim's next packet.
    pub rx_seq: u32,
    inbox: Vec<u8>,
    outgoing: Vec<u8>,
    /// Every packet the victim sent, decrypted, in order.
    pub received: Vec<Packet>,
    /// `zlib` (RFC 4253 section 6.2) on what we send, from our NEWKEYS on,
    /// when it is first on our compression list.
    deflate: Option<flate2::Compress>,
    /// `zlib` on what the victim sends, from its NEWKEYS on.
    inflate: Option<flate2::Decompress>,
    /// Compress from NEWKEYS whatever was negotiated (a peer ignoring
    /// `zlib@openssh.com`'s delay); by default only for `zlib`.
    pub zlib_from_newkeys: bool,
    /// The victim sent bytes we could not deframe or authenticate.
    pub garbled: bool,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("role", &self.role)
            .field("stage", &self.stage)
            .field("tx_seq", &self.tx_seq)
            .field("rx_seq", &self.rx_seq)
            .field("received", &self.received.len())
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// Uses (and offers only) `cipher`.
    pub fn with_cipher(mut self, cipher: &'static dyn CipherAlgorithm) -> Self {
        self.cipher = cipher;
        self.lists.cipher = vec![cipher.name().to_string()];
        self
    }

    /// A scripted server (the victim is a client).
    pub fn server() -> Self {
        Self::new(Side::Server)
    }

    /// A scripted client (the victim is a server).
    pub fn client() -> Self {
        Self::new(Side::Client)
    }

    fn new(role: Side) -> Self {
        Peer {
            role,
            rng: ChaCha20Rng::seed_from_u64(0x0405_711e),
            host_key: ed25519(0xbad),
            rekey_kexinit_sent: false,
            strict_kex: true,
            lists: KexLists::default(),
            cipher: &AES128_GCM,
            host_key_blob_override: None,
            corrupt_signature: false,
            kexinit_before_newkeys: false,
            auto_auth: true,
            manual: false,
            strict: false,
            stage: Stage::Kex,
            victim_ident: None,
            our_kexinit: Vec::new(),
            victim_kexinit: None,
            ephemeral: None,
            session_id: None,
            next_sealer: None,
            next_opener: None,
            sealer: Box::new(NoneSealer),
            opener: Box::new(NoneOpener),
            tx_seq: 0,
            rx_seq: 0,
            inbox: Vec::new(),
            outgoing: Vec::new(),
            received: Vec::new(),
            deflate: None,
            inflate: None,
            zlib_from_newkeys: false,
            garbled: false,
        }
    }

    /// Our identification line, CR LF included.
    pub fn ident_line() -> Vec<u8> {
        [PEER_IDENT, b"\r\n"].concat()
    }

    /// A KEXINIT payload with `lists` (markers added as `first` says).
    pub fn kexinit_payload(&mut self, lists: &KexLists, first: bool) -> Vec<u8> {
        let mut kex = lists.kex.clone();
        if first {
            match self.role {
                Side::Server => {
                    if self.strict_kex {
                        kex.push("kex-strict-s-v00@openssh.com".into());
                    }
                }
                Side::Client => {
                    if self.strict_kex {
                        kex.push("kex-strict-c-v00@openssh.com".into());
                    }
                }
            }
        }
        let mut cookie = [0u8; 16];
        rand_chacha::rand_core::Rng::fill_bytes(&mut self.rng, &mut cookie);
        let mut p = vec![msg::KEXINIT];
        p.put_raw(&cookie);
        p.put_name_list(&kex);
        p.put_name_list(&lists.host_key);
        for list in [&lists.cipher, &lists.mac, &lists.compression] {
            p.put_name_list(list);
            p.put_name_list(list);
        }
        p.put_name_list::<&str>(&[]);
        p.put_name_list::<&str>(&[]);
        p.put_bool(false);
        p.put_u32(0);
        p
    }

    /// Queues our identification line and first KEXINIT.
    pub fn start(&mut self) {
        self.outgoing.extend_from_slice(&Self::ident_line());
        let lists = self.lists.clone();
        let kexinit = self.kexinit_payload(&lists, true);
        self.our_kexinit = kexinit.clone();
        self.send(&kexinit);
    }

    /// Bytes queued for the victim, taken.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outgoing)
    }

    /// Frames and seals `payload` with the current keys and queues it.
    pub fn send(&mut self, payload: &[u8]) {
        let bytes = self.seal(payload);
        self.outgoing.extend_from_slice(&bytes);
    }

    /// Queues raw bytes (outside any framing).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.outgoing.extend_from_slice(bytes);
    }

    /// `payload` framed (RFC 4253 section 6) and sealed with the current
    /// keys and sequence number, with correct padding.
    pub fn seal(&mut self, payload: &[u8]) -> Vec<u8> {
        let compressed;
        let payload = match &mut self.deflate {
            Some(z) => {
                // Ended with a partial flush, as OpenSSH does.
                let mut out = Vec::with_capacity(payload.len() + 1024);
                z.compress_vec(payload, &mut out, flate2::FlushCompress::Partial)
                    .unwrap();
                assert!(out.len() < out.capacity(), "deflate output fits");
                compressed = out;
                &compressed[..]
            }
            None => payload,
        };
        let layout = self.sealer.layout();
        let block = layout.block_len.max(8);
        let unpadded = 1
            + payload.len()
            + if layout.length_outside_alignment {
                0
            } else {
                4
            };
        let mut padding = block - unpadded % block;
        if padding < 4 {
            padding += block;
        }
        while 4 + 1 + payload.len() + padding < 16 {
            padding += block;
        }
        let len = u32::try_from(1 + payload.len() + padding).unwrap();
        let mut body = payload.to_vec();
        body.resize(payload.len() + padding, 0);
        self.seal_fields(len, padding as u8, &body)
    }

    /// A packet with the given length and padding-length fields and `body`
    /// (payload and padding) after them, sealed with the current keys,
    /// whether or not the fields are consistent.
    pub fn seal_fields(&mut self, length: u32, padding: u8, body: &[u8]) -> Vec<u8> {
        let tag = self.sealer.layout().tag_len;
        let mut p = length.to_be_bytes().to_vec();
        p.push(padding);
        p.extend_from_slice(body);
        p.resize(p.len() + tag, 0);
        self.sealer.seal(self.tx_seq, &mut p);
        self.tx_seq = self.tx_seq.wrapping_add(1);
        p
    }

    /// Moves bytes both ways until neither side has anything more to say.
    /// Returns the victim's error if it failed.
    pub fn pump(&mut self, victim: &mut Victim) -> Result<(), Error> {
        for _ in 0..10_000 {
            let out = victim.take_output();
            if !out.is_empty() {
                self.absorb(&out);
            }
            let inp = self.take_outgoing();
            if out.is_empty() && inp.is_empty() {
                return match victim.conn.error() {
                    Some(e) => Err(e.clone()),
                    None => Ok(()),
                };
            }
            if !inp.is_empty() {
                if let Err(e) = victim.feed(&inp) {
                    // Read the DISCONNECT it sent.
                    let out = victim.take_output();
                    self.absorb(&out);
                    return Err(e);
                }
            }
        }
        panic!("no quiescence after 10000 rounds");
    }

    /// Runs the honest handshake up to `stage` (the victim's application
    /// answers by its policy). Panics if it does not get there.
    pub fn establish(&mut self, victim: &mut Victim, stage: Stage) {
        self.start();
        self.pump(victim).expect("honest handshake");
        assert!(
            self.stage >= stage,
            "handshake stopped at {:?}; victim events {:#?}",
            self.stage,
            victim.log
        );
    }

    /// A scripted server and a client victim, logged in.
    pub fn logged_in_client(config: ClientConfig) -> (Peer, Victim) {
        let mut peer = Peer::server();
        let mut victim = Victim::client(config);
        peer.establish(&mut victim, Stage::Authenticated);
        (peer, victim)
    }

    /// A scripted client and a server victim, logged in.
    pub fn logged_in_server(config: ServerConfig) -> (Peer, Victim) {
        let mut peer = Peer::client();
        let mut victim = Victim::server(config);
        peer.establish(&mut victim, Stage::Authenticated);
        (peer, victim)
    }

    /// Sends `payload` to the victim at once and returns its verdict.
    pub fn inject(&mut self, victim: &mut Victim, payload: &[u8]) -> Result<(), Error> {
        self.send(payload);
        self.pump(victim)
    }

    /// The victim's last packet, decrypted: after a failure, its DISCONNECT.
    pub fn last_received(&self) -> Option<&Packet> {
        self.received.last()
    }

    /// The reason of the DISCONNECT the victim sent last, if that is what
    /// its last packet was.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        self.last_received()
            .and_then(|p| parse_disconnect(&p.payload))
            .map(|(r, _)| r)
    }

    /// Packets received with message number `m`.
    pub fn received_msgs(&self, m: u8) -> Vec<&Packet> {
        self.received.iter().filter(|p| p.msg() == m).collect()
    }

    /// Takes bytes from the victim: its identification line, then packets,
    /// which are decrypted, recorded and (unless `manual`) answered.
    pub fn absorb(&mut self, bytes: &[u8]) {
        self.inbox.extend_from_slice(bytes);
        if self.victim_ident.is_none() {
            let Some(lf) = self.inbox.iter().position(|&b| b == b'\n') else {
                return;
            };
            let line: Vec<u8> = self.inbox.drain(..=lf).collect();
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.victim_ident = Some(line.to_vec());
        }
        while let Some(packet) = self.next_packet() {
            self.received.push(packet.clone());
            if !self.manual {
                self.react(&packet.payload);
            }
        }
    }

    fn next_packet(&mut self) -> Option<Packet> {
        if self.garbled {
            return None;
        }
        let layout = self.opener.layout();
        let first = layout.first_block_len.max(4);
        if self.inbox.len() < first {
            return None;
        }
        // The length is read from a copy, so an incomplete packet stays as
        // it came (the opener may decrypt the first block in place).
        let mut head = self.inbox[..first].to_vec();
        let len = self.opener.decrypt_length(self.rx_seq, &mut head) as usize;
        let total = 4 + len + layout.tag_len;
        if len > 1 << 20 {
            self.garbled = true;
            return None;
        }
        if self.inbox.len() < total {
            return None;
        }
        let mut p: Vec<u8> = self.inbox.drain(..total).collect();
        let mut scratch = p[..first].to_vec();
        self.opener.decrypt_length(self.rx_seq, &mut scratch);
        p[..first].copy_from_slice(&scratch);
        if self.opener.open(self.rx_seq, &mut p).is_err() {
            self.garbled = true;
            return None;
        }
        let padding = p[4] as usize;
        let mut payload = p.get(5..4 + len - padding)?.to_vec();
        if let Some(z) = &mut self.inflate {
            let mut out = Vec::with_capacity(1 << 20);
            z.decompress_vec(&payload, &mut out, flate2::FlushDecompress::Sync)
                .ok()?;
            payload = out;
        }
        let seq = self.rx_seq;
        self.rx_seq = self.rx_seq.wrapping_add(1);
        Some(Packet { seq, payload })
    }

    /// The honest peer's answers to the victim's handshake messages.
    fn react(&mut self, payload: &[u8]) {
        match (self.role, payload.first().copied().unwrap_or(0)) {
            (_, msg::KEXINIT) if self.victim_kexinit.is_none() => {
                let first_kex = self.session_id.is_none();
                if first_kex {
                    let theirs = String::from_utf8_lossy(payload);
                    let marker = match self.role {
                        Side::Server => "kex-strict-c-v00@openssh.com",
                        Side::Client => "kex-strict-s-v00@openssh.com",
                    };
                    self.strict = self.strict_kex && theirs.contains(marker);
                } else if !self.rekey_kexinit_sent {
                    // A re-exchange the victim started: answer it.
                    let lists = self.lists.clone();
                    self.our_kexinit = self.kexinit_payload(&lists, false);
                    let k = self.our_kexinit.clone();
                    self.send(&k);
                }
                self.victim_kexinit = Some(payload.to_vec());
                if self.role == Side::Client {
                    let e = CURVE25519_SHA256.start(&mut self.rng);
                    let mut p = vec![msg::KEX_ECDH_INIT];
                    p.put_string(e.public_value());
                    self.ephemeral = Some(e);
                    self.send(&p);
                }
            }
            (Side::Server, msg::KEX_ECDH_INIT) => self.server_reply(payload),
            (Side::Client, msg::KEX_ECDH_REPLY) => self.client_finish(payload),
            (_, msg::NEWKEYS) => {
                if let Some(o) = self.next_opener.take() {
                    self.opener = o;
                }
                if self.zlib() {
                    self.inflate = Some(flate2::Decompress::new(true));
                }
                if self.strict {
                    self.rx_seq = 0;
                }
                self.victim_kexinit = None;
                self.rekey_kexinit_sent = false;
                if self.stage == Stage::Kex {
                    self.stage = Stage::Encrypted;
                    if self.role == Side::Client && self.auto_auth {
                        let mut p = vec![msg::SERVICE_REQUEST];
                        p.put_str("ssh-userauth");
                        self.send(&p);
                        let mut p = vec![msg::USERAUTH_REQUEST];
                        p.put_str(USER);
                        p.put_str("ssh-connection");
                        p.put_str("password");
                        p.put_bool(false);
                        p.put_str("hunter2");
                        self.send(&p);
                    }
                }
            }
            (Side::Server, msg::SERVICE_REQUEST) if self.auto_auth => {
                let mut p = vec![msg::SERVICE_ACCEPT];
                p.put_str("ssh-userauth");
                self.send(&p);
            }
            (Side::Server, msg::USERAUTH_REQUEST)
                if self.auto_auth && self.stage < Stage::Authenticated =>
            {
                self.send(&[msg::USERAUTH_SUCCESS]);
                self.stage = Stage::Authenticated;
            }
            (Side::Client, msg::USERAUTH_SUCCESS) => self.stage = Stage::Authenticated,
            _ => {}
        }
    }

    /// Server: answers KEX_ECDH_INIT (RFC 5656 section 4, RFC 8731), sends
    /// NEWKEYS and switches to the new keys.
    fn server_reply(&mut self, payload: &[u8]) {
        let mut r = Reader::new(&payload[1..]);
        let q_c = r.string().unwrap().to_vec();
        let e = CURVE25519_SHA256.start(&mut self.rng);
        let q_s = e.public_value().to_vec();
        let k = e.agree(&q_c).expect("victim's curve25519 value");
        let host_key_blob = self
            .host_key_blob_override
            .clone()
            .unwrap_or_else(|| self.host_key.public_key().blob().to_vec());
        let h = exchange_hash(
            CURVE25519_SHA256.hash(),
            &ExchangeHashInput {
                client_ident: self.victim_ident.as_deref().unwrap_or_default(),
                server_ident: PEER_IDENT,
                client_kexinit: self.victim_kexinit.as_deref().unwrap_or_default(),
                server_kexinit: &self.our_kexinit,
                host_key: &host_key_blob,
                client_public: &q_c,
                server_public: &q_s,
                shared_secret: k.encoded(),
            },
        );
        let mut sig = SSH_ED25519.sign(&self.host_key, &h).unwrap();
        if self.corrupt_signature {
            let last = sig.len() - 1;
            sig[last] ^= 1;
        }
        let mut p = vec![msg::KEX_ECDH_REPLY];
        p.put_string(&host_key_blob);
        p.put_string(&q_s);
        p.put_string(&sig);
        self.send(&p);
        if self.kexinit_before_newkeys {
            let lists = self.lists.clone();
            let again = self.kexinit_payload(&lists, false);
            self.send(&again);
        }
        self.install_keys(k.encoded(), &h);
        self.send_newkeys();
    }

    /// Client: takes KEX_ECDH_REPLY, sends NEWKEYS and switches keys. (The
    /// victim's signature is not checked: it is the victim under test.)
    fn client_finish(&mut self, payload: &[u8]) {
        let mut r = Reader::new(&payload[1..]);
        let host_key_blob = r.string().unwrap().to_vec();
        let q_s = r.string().unwrap().to_vec();
        let e = self.ephemeral.take().expect("our ECDH_INIT went first");
        let q_c = e.public_value().to_vec();
        let k = e.agree(&q_s).expect("victim's curve25519 value");
        let h = exchange_hash(
            CURVE25519_SHA256.hash(),
            &ExchangeHashInput {
                client_ident: PEER_IDENT,
                server_ident: self.victim_ident.as_deref().unwrap_or_default(),
                client_kexinit: &self.our_kexinit,
                server_kexinit: self.victim_kexinit.as_deref().unwrap_or_default(),
                host_key: &host_key_blob,
                client_public: &q_c,
                server_public: &q_s,
                shared_secret: k.encoded(),
            },
        );
        self.install_keys(k.encoded(), &h);
        self.send_newkeys();
    }

    /// RFC 4253 section 7.2: IVs and keys for both directions.
    fn install_keys(&mut self, k: &[u8], h: &[u8]) {
        let session_id = self.session_id.get_or_insert_with(|| h.to_vec()).clone();
        let hash = CURVE25519_SHA256.hash();
        let d = |letter: u8, len: usize| derive_key(hash, k, h, letter, &session_id, len);
        let cipher = self.cipher;
        let c2s = (d(b'A', cipher.iv_len()), d(b'C', cipher.key_len()));
        let s2c = (d(b'B', cipher.iv_len()), d(b'D', cipher.key_len()));
        let (ours, theirs) = match self.role {
            Side::Client => (c2s, s2c),
            Side::Server => (s2c, c2s),
        };
        self.next_sealer = Some(cipher.sealer(&ours.1, &ours.0, None));
        self.next_opener = Some(cipher.opener(&theirs.1, &theirs.0, None));
    }

    fn send_newkeys(&mut self) {
        self.send(&[msg::NEWKEYS]);
        if let Some(s) = self.next_sealer.take() {
            self.sealer = s;
        }
        if self.zlib() {
            // A fresh context at every NEWKEYS (section 6.2).
            self.deflate = Some(flate2::Compress::new(flate2::Compression::new(6), true));
        }
        if self.strict {
            self.tx_seq = 0;
        }
    }

    /// Whether we compress with `zlib` (the victim must agree to it).
    fn zlib(&self) -> bool {
        self.zlib_from_newkeys || self.lists.compression.first().map(String::as_str) == Some("zlib")
    }

    /// Starts a re-exchange from our side (KEXINIT now).
    pub fn start_rekey(&mut self) {
        let lists = self.lists.clone();
        self.our_kexinit = self.kexinit_payload(&lists, false);
        let k = self.our_kexinit.clone();
        self.send(&k);
        self.rekey_kexinit_sent = true;
    }
}
