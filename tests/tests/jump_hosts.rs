//! Jump hosts as a library call (`conch_tokio::connect_via`, `ssh -J`):
//! a session through a `direct-tcpip` channel of another, each with its own
//! host key check and authentication; closing the outer session ends the
//! inner one with an error that names the jump host.

mod common;
use common::client::block_on_bounded;

use std::time::Duration;

use conch_interop::{KeyPair, Sshd};
use conch_tokio::{
    connect, connect_via, load_private_key, AuthMethods, ClientOptions, HostKeyPolicy, PublicKey,
    Session,
};
use tokio::io::AsyncReadExt;

const LIMIT: Duration = Duration::from_secs(20);

fn trusting(sshd: &Sshd) -> ClientOptions {
    let keys = sshd
        .host_keys()
        .iter()
        .map(|k: &KeyPair| PublicKey::from_openssh(&k.public_line).unwrap());
    ClientOptions::new(HostKeyPolicy::trust_keys(keys))
}

async fn login(session: &Session, sshd: &Sshd) {
    let key = load_private_key(&sshd.user_key().private_path, &mut |_| None).unwrap();
    session
        .authenticate(&sshd.login_user(), AuthMethods::new().key(key))
        .await
        .unwrap();
}

async fn echo(session: &Session, text: &str) -> conch_tokio::Result<String> {
    let mut channel = session.exec(format!("echo {text}")).await?;
    let mut out = String::new();
    channel
        .read_to_string(&mut out)
        .await
        .map_err(|e| conch_tokio::Error::Io(std::sync::Arc::new(e)))?;
    Ok(out)
}

#[test]
fn two_hops_then_closing_the_outer_ends_the_inner_with_a_clear_error() {
    let (a, b, c) = (
        Sshd::start_default(),
        Sshd::start_default(),
        Sshd::start_default(),
    );
    block_on_bounded("jump host test", LIMIT, async {
        let outer = connect("127.0.0.1", a.port(), trusting(&a)).await.unwrap();
        login(&outer, &a).await;
        let middle = connect_via(&outer, "127.0.0.1", b.port(), trusting(&b))
            .await
            .unwrap();
        login(&middle, &b).await;
        // The last hop checks its own host key: a wrong one is refused.
        let wrong = connect_via(&middle, "127.0.0.1", c.port(), trusting(&a)).await;
        assert!(wrong.is_err(), "c's key is not a's");
        let inner = connect_via(&middle, "127.0.0.1", c.port(), trusting(&c))
            .await
            .unwrap();
        login(&inner, &c).await;
        assert_eq!(echo(&inner, "three").await.unwrap(), "three\n");

        outer.close().await;
        inner.closed().await;
        let reason = inner.disconnect_reason().expect("the inner session ended");
        assert!(
            reason.to_string().contains("jump host"),
            "unclear error: {reason}"
        );
        assert!(echo(&inner, "late").await.is_err());
    });
}
