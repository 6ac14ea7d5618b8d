//! A [`ClientAuth`] and a [`ServerAuth`] wired to each other through two
//! outboxes, with a fixed fake session id: no transport involved.

mod flows;
mod hostile;
mod secrets;

use std::collections::VecDeque;

use bytes::Bytes;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::{AuthContext, AuthDecision, ClientAuth, ServerAuth, ServerAuthConfig};
use crate::error::Error;
use crate::event::Event;
use crate::keys::PrivateKey;
use crate::outbox::Outbox;
use crate::wire::Encode;

/// Stands in for the exchange hash of the first key exchange.
const SESSION_ID: [u8; 32] = [0x5a; 32];

/// Which side returned the error.
#[derive(Debug, PartialEq, Eq)]
enum Failed {
    Client(Error),
    Server(Error),
}

struct Pair {
    client: ClientAuth,
    server: ServerAuth,
    /// The client's outbox: messages on their way to the server.
    to_server: Outbox,
    /// The server's outbox: messages on their way to the client.
    to_client: Outbox,
    client_events: VecDeque<Event>,
    server_events: VecDeque<Event>,
    server_sig_algs: Option<Vec<String>>,
}

fn config() -> ServerAuthConfig {
    ServerAuthConfig {
        methods: vec![
            "publickey".to_string(),
            "password".to_string(),
            "keyboard-interactive".to_string(),
        ],
        max_attempts: 6,
        banner: None,
        // These unit tests check what is answered, not when (the delay is
        // tested through a whole connection in core/tests/auth_delay.rs).
        failure_delay: None,
        timing_secret: [0; 32],
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn ed25519_key(seed: u64) -> PrivateKey {
    PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// Takes the oldest message out of an outbox.
fn pop(out: &mut Outbox) -> Option<Bytes> {
    let payload = Bytes::copy_from_slice(out.front()?);
    out.pop_front();
    Some(payload)
}

/// A message built by hand, for what our own client would never send.
fn raw(msg_no: u8, fields: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut v = vec![msg_no];
    fields(&mut v);
    Bytes::from(v)
}

/// A USERAUTH_REQUEST built by hand.
fn raw_request(
    user: &str,
    service: &str,
    method: &str,
    fields: impl FnOnce(&mut Vec<u8>),
) -> Bytes {
    raw(crate::msg::USERAUTH_REQUEST, |v| {
        v.put_str(user);
        v.put_str(service);
        v.put_str(method);
        fields(v);
    })
}

impl Pair {
    /// Both sides fresh; the client has not started.
    fn new(config: ServerAuthConfig) -> Self {
        Pair {
            client: ClientAuth::default(),
            server: ServerAuth::new(config, crate::test_epoch()),
            to_server: Outbox::default(),
            to_client: Outbox::default(),
            client_events: VecDeque::new(),
            server_events: VecDeque::new(),
            server_sig_algs: None,
        }
    }

    /// Service accepted, `UserauthReady` taken.
    fn ready(config: ServerAuthConfig) -> Self {
        let mut p = Pair::new(config);
        p.client.start(&mut p.to_server);
        p.pump().expect("service request");
        assert_eq!(p.client_event(), Event::UserauthReady);
        p
    }

    /// Moves messages both ways until neither side has anything to send.
    fn pump(&mut self) -> Result<(), Failed> {
        loop {
            let mut moved = false;
            while let Some(payload) = pop(&mut self.to_server) {
                moved = true;
                self.deliver_to_server(payload).map_err(Failed::Server)?;
            }
            while let Some(payload) = pop(&mut self.to_client) {
                moved = true;
                self.deliver_to_client(payload).map_err(Failed::Client)?;
            }
            if !moved {
                return Ok(());
            }
        }
    }

    fn deliver_to_server(&mut self, payload: Bytes) -> Result<(), Error> {
        let ctx = AuthContext {
            session_id: &SESSION_ID,
            server_sig_algs: None,
        };
        self.server
            .handle(payload, ctx, &mut self.to_client, &mut self.server_events)
    }

    fn deliver_to_client(&mut self, payload: Bytes) -> Result<(), Error> {
        let ctx = AuthContext {
            session_id: &SESSION_ID,
            server_sig_algs: self.server_sig_algs.as_deref(),
        };
        self.client
            .handle(payload, ctx, &mut self.to_server, &mut self.client_events)
    }

    /// The server application decides, then messages flow.
    fn decide(&mut self, decision: AuthDecision) -> Result<(), Failed> {
        self.server
            .decide(decision, &mut self.to_client, &mut self.server_events)
            .map_err(Failed::Server)?;
        self.pump()
    }

    fn client_event(&mut self) -> Event {
        self.client_events.pop_front().expect("a client event")
    }

    fn server_event(&mut self) -> Event {
        self.server_events.pop_front().expect("a server event")
    }

    /// Asserts both sides are quiet: no events, nothing to send.
    fn assert_quiet(&self) {
        assert_eq!(self.client_events, VecDeque::new(), "client events");
        assert_eq!(self.server_events, VecDeque::new(), "server events");
        assert!(self.to_server.is_empty() && self.to_client.is_empty());
    }

    /// The server application sees exactly this request.
    fn expect_request(&mut self, user: &str, attempt: crate::event::AuthAttempt) {
        assert_eq!(
            self.server_event(),
            Event::AuthRequest {
                user: user.to_string(),
                service: "ssh-connection".to_string(),
                attempt,
            }
        );
    }

    fn expect_failure(&mut self, methods: &[&str], partial_success: bool) {
        assert_eq!(
            self.client_event(),
            Event::AuthFailure {
                methods: strings(methods),
                partial_success,
            }
        );
    }

    fn expect_success(&mut self, user: &str) {
        assert_eq!(self.client_event(), Event::AuthSuccess);
        assert_eq!(
            self.server_event(),
            Event::Authenticated {
                user: user.to_string()
            }
        );
        assert!(self.client.is_authenticated());
        assert!(self.server.is_authenticated());
    }
}
