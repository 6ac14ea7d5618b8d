//! Private keys in the formats other tools write log Conch in to a real
//! `sshd`: PEM (PKCS#1 RSA, SEC1 EC) from `ssh-keygen -m PEM`, PKCS#8 and
//! encrypted PKCS#8 from `ssh-keygen -m PKCS8` and `openssl`. Bounded by
//! [`TEST_TIMEOUT`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use conch_interop::process::TOOL_TIMEOUT;
use conch_interop::{run_bounded, Input, Sshd, SshdOptions, TestDir};
use conch_tokio::{
    connect, load_private_key, AuthMethods, ClientOptions, HostKeyPolicy, KeyFileError, PrivateKey,
    PublicKey,
};

const TEST_TIMEOUT: Duration = Duration::from_secs(30);
const PASSPHRASE: &str = "conch interop";

#[track_caller]
fn tool(program: &str, args: &[&str], dir: &Path) {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    run_bounded(&mut command, Input::Null, TOOL_TIMEOUT).assert_success();
}

/// Each key file, made by the tool that users have, and its passphrase.
fn make_keys(dir: &TestDir) -> Vec<(PathBuf, Option<&'static str>)> {
    conch_interop::process::require_program("openssl", "openssl");
    let d = dir.path();
    tool(
        "ssh-keygen",
        &[
            "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", "rsa_pem",
        ],
        d,
    );
    tool(
        "ssh-keygen",
        &["-q", "-t", "ecdsa", "-m", "PEM", "-N", "", "-f", "ec_pem"],
        d,
    );
    tool(
        "ssh-keygen",
        &[
            "-q", "-t", "ecdsa", "-b", "384", "-m", "PKCS8", "-N", "", "-f", "ec_pkcs8",
        ],
        d,
    );
    tool(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "rsa",
            "-b",
            "2048",
            "-m",
            "PKCS8",
            "-N",
            PASSPHRASE,
            "-f",
            "rsa_pkcs8_enc",
        ],
        d,
    );
    tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "ed25519",
            "-out",
            "ed25519_openssl",
        ],
        d,
    );
    tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec_plain",
        ],
        d,
    );
    tool(
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "ec_plain",
            "-out",
            "ec_openssl_enc",
            "-passout",
            &format!("pass:{PASSPHRASE}"),
        ],
        d,
    );
    [
        ("rsa_pem", None),
        ("ec_pem", None),
        ("ec_pkcs8", None),
        ("rsa_pkcs8_enc", Some(PASSPHRASE)),
        ("ed25519_openssl", None),
        ("ec_openssl_enc", Some(PASSPHRASE)),
    ]
    .into_iter()
    .map(|(name, pass)| (dir.join(name), pass))
    .collect()
}

fn load(path: &Path, pass: Option<&str>) -> PrivateKey {
    load_private_key(path, &mut |_| pass.map(str::to_owned))
        .unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
}

#[test]
fn pem_pkcs8_and_encrypted_pkcs8_keys_log_in_to_sshd() {
    let dir = TestDir::new("key-formats");
    let keys = make_keys(&dir);
    let loaded: Vec<PrivateKey> = keys.iter().map(|(p, pass)| load(p, *pass)).collect();
    // A wrong passphrase is a clear error, not a parse failure.
    let (encrypted, _) = &keys[3];
    let wrong = load_private_key(encrypted, &mut |_| Some("wrong".into())).unwrap_err();
    assert!(
        matches!(wrong, KeyFileError::WrongPassphrase { .. }),
        "{wrong}"
    );

    let sshd = Sshd::start(SshdOptions {
        authorized_keys: loaded.iter().map(|k| k.public_key().to_openssh()).collect(),
        ..SshdOptions::default()
    });
    let host_keys: Vec<PublicKey> = sshd
        .host_keys()
        .iter()
        .map(|k| PublicKey::from_openssh(&k.public_line).unwrap())
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for ((path, _), key) in keys.iter().zip(loaded) {
        let mut options = ClientOptions::new(HostKeyPolicy::trust_keys(host_keys.clone()));
        options.connect_timeout = Some(TEST_TIMEOUT);
        let user = sshd.login_user();
        let result = runtime.block_on(async {
            tokio::time::timeout(TEST_TIMEOUT, async {
                let session = connect("127.0.0.1", sshd.port(), options).await?;
                session
                    .authenticate(&user, AuthMethods::new().key(key))
                    .await?;
                Ok::<_, conch_tokio::Error>(())
            })
            .await
        });
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{}: {e}\n{}", path.display(), sshd.log_tail(30)),
            Err(_) => panic!("{}: timed out", path.display()),
        }
    }
}
