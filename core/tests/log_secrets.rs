//! What the connections log (`tracing`, at the most verbose level) over a
//! whole session: a wrong password, the right one, a key, a keyboard
//! prompt, a command, data, a re-exchange and a disconnect. It names what
//! happened (algorithms, methods, users, channels, the end) and never a
//! password, a prompt answer, a private key, a signature or the session's
//! secrets.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use conch_core::Event;
use tracing_subscriber::fmt::MakeWriter;

/// Everything logged, in one buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_whole_session_logs_what_happened_and_no_secret() {
    const WRONG: &str = "wrong-password-Zq8vX";
    const ANSWER: &str = "prompt-answer-K3pW";
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let user_key = ed25519_key(42);
    let (session_id, signature) = tracing::subscriber::with_default(subscriber, || {
        let mut pair = Pair::new();
        pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
        pair.server_app.required_methods = vec![
            "password".into(),
            "publickey".into(),
            "keyboard-interactive".into(),
        ];
        pair.server_app.kbd_prompts = vec![(
            conch_core::Prompt {
                prompt: "Code: ".into(),
                echo: false,
            },
            ANSWER.into(),
        )];
        pair.handshake();
        pair.client.conn.auth_password(USER, WRONG).unwrap();
        pair.drive();
        pair.client.conn.auth_password(USER, PASSWORD).unwrap();
        pair.drive();
        pair.client
            .conn
            .auth_publickey(USER, user_key.public_key())
            .unwrap();
        pair.drive();
        let data = pair
            .client
            .new_events()
            .into_iter()
            .find_map(|e| match e {
                Event::AuthSignatureNeeded { data, .. } => Some(data),
                _ => None,
            })
            .expect("signature asked for");
        let signature = user_key.sign("ssh-ed25519", &data).unwrap();
        pair.client.conn.auth_signature(&signature).unwrap();
        pair.drive();
        pair.client
            .conn
            .auth_keyboard_interactive(USER, "")
            .unwrap();
        pair.drive();
        pair.client
            .conn
            .auth_info_response(&[ANSWER.to_string()])
            .unwrap();
        pair.drive();
        pair.assert_authenticated();
        let ch = pair.exec("cat");
        pair.client_send_all(ch, b"some data");
        pair.client.conn.rekey().unwrap();
        pair.drive();
        pair.client.conn.disconnect("bye");
        pair.drive();
        (pair.client.conn.session_id().unwrap().to_vec(), signature)
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();

    // What happened is there.
    for expected in [
        "Remote protocol version 2.0, remote software version",
        "kex: algorithm: ",
        "kex: client->server cipher: ",
        "Failed password for alice",
        "Partial authentication: password for alice",
        "Partial authentication: publickey for alice",
        "Accepted keyboard-interactive for alice",
        "Authenticated using \"keyboard-interactive\".",
        "channel 0: rcvd request exec reply 1",
        "rekey completed",
        "Received disconnect from client: 11: closed by application: bye",
        "role=\"client\"",
        "role=\"server\"",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} not in the log:\n{log}"
        );
    }
    // No secret is.
    let private = user_key.to_openssh().unwrap();
    let mut secrets: Vec<String> = vec![
        WRONG.into(),
        PASSWORD.into(),
        ANSWER.into(),
        hex(&signature),
        hex(&session_id),
    ];
    secrets.extend(
        private
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(|l| l.to_string()),
    );
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "{secret:?} logged:\n{log}");
    }
}
