//! Conch's client (conch-tokio) against a real dropbear server on loopback:
//! exec with exit status, and bulk data through `cat` compared by SHA-256.
//! Dropbear logs in as [`conch_interop::TEST_USER`], so these tests run as
//! root (see `conch_interop::dropbear`). Every test is bounded.

mod common;
use common::client::{block_on_bounded, public_of};
use common::stream_through;

use std::time::Duration;

use conch_interop::{pattern_sha256, Dropbear, DropbearOptions, TEST_USER};
use conch_tokio::{
    connect, AuthMethods, ClientOptions, ExitStatus, HostKeyPolicy, PrivateKey, Session,
};
use tokio::io::AsyncReadExt;

/// Longest a test without bulk data may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest the bulk transfer may take on a shared 2-core machine.
const BULK_TIMEOUT: Duration = Duration::from_secs(240);
/// The bulk payload through `cat`.
const THIRTY_TWO_MIB: u64 = 32 * 1024 * 1024;

/// Connects trusting exactly dropbear's host keys and logs in with its
/// authorized user key.
async fn login(dropbear: &Dropbear) -> Session {
    let mut options = ClientOptions::new(HostKeyPolicy::trust_keys(
        dropbear.host_keys().iter().map(public_of),
    ));
    options.connect_timeout = Some(TEST_TIMEOUT);
    options.config_mut().transport.handshake_timeout = Some(TEST_TIMEOUT);
    let session = connect("127.0.0.1", dropbear.port(), options)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let text = std::fs::read(&dropbear.user_key().private_path).expect("read user key");
    let key = PrivateKey::from_openssh(&text, None).expect("user key");
    session
        .authenticate(dropbear.login_user(), AuthMethods::new().key(key))
        .await
        .unwrap_or_else(|e| panic!("authenticate: {e}"));
    session
}

#[test]
fn exec_reports_output_and_exit_status() {
    let dropbear = Dropbear::start(DropbearOptions::default());
    let (stdout, status, who) = block_on_bounded("exec", TEST_TIMEOUT, async {
        let session = login(&dropbear).await;
        let mut channel = session
            .exec("echo hello from dropbear; exit 9")
            .await
            .expect("exec");
        let mut stdout = String::new();
        channel.read_to_string(&mut stdout).await.expect("read");
        let status = channel.exit_status().await.expect("exit status");

        let mut id = session.exec("id -un").await.expect("exec id");
        let mut who = String::new();
        id.read_to_string(&mut who).await.expect("read id");
        (stdout, status, who)
    });
    assert_eq!(stdout, "hello from dropbear\n");
    assert_eq!(status, ExitStatus::Code(9));
    assert_eq!(who, format!("{TEST_USER}\n"));
}

#[test]
fn thirty_two_mib_through_cat() {
    let dropbear = Dropbear::start(DropbearOptions::default());
    let ((len, sha256), status) = block_on_bounded("bulk data", BULK_TIMEOUT, async {
        let session = login(&dropbear).await;
        let channel = session.exec("cat").await.expect("exec cat");
        let received = stream_through(&channel, THIRTY_TWO_MIB, 3).await;
        (received, channel.exit_status().await.expect("exit status"))
    });
    assert_eq!(len, THIRTY_TWO_MIB, "cat returned {len} bytes");
    assert_eq!(
        sha256,
        pattern_sha256(THIRTY_TWO_MIB, 3),
        "cat's output differs"
    );
    assert_eq!(status, ExitStatus::Code(0));
}
