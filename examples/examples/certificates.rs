//! OpenSSH certificates end to end in one process: a CA signs a host key
//! and a user key (what `ssh-keygen -s` does; here with the `ssh-key`
//! crate), conchd's server serves the host certificate and trusts the CA
//! for users (`--host-certificate`, `--trusted-user-ca-keys`), and a client
//! that knows nothing but the CA, through an `@cert-authority` line, logs
//! in with the user certificate.
//!
//! `cargo run -p conch-examples --example certificates`

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use conch_cli::server::{no_log, Conchd, Passwords, ServerSetup};
use conch_core::{PrivateKey, PublicKey};
use conch_openssh::{AuthorizedKeys, KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier, NoUi};
use conch_tokio::{connect, AuthMethods, ClientOptions};
use getrandom::SysRng;
use rand_core::{Rng, UnwrapErr};
use ssh_key::certificate::{Builder, CertType};

/// Signs `key` with `ca` for `principals`, valid for the next hour.
fn certify(
    ca: &ssh_key::PrivateKey,
    key: &PrivateKey,
    cert_type: CertType,
    principals: &[&str],
) -> Result<PublicKey, Box<dyn std::error::Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut nonce = [0u8; 16];
    UnwrapErr(SysRng).fill_bytes(&mut nonce);
    let data = key.public_key().as_ssh_key().key_data().clone();
    let mut builder = Builder::new(nonce, data, now - 60, now + 3600)?;
    builder.cert_type(cert_type)?.key_id("example")?;
    for p in principals {
        builder.valid_principal(*p)?;
    }
    let cert = builder.sign(ca)?;
    Ok(PublicKey::from_blob(&cert.to_bytes()?)?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seed = [0u8; 32];
    UnwrapErr(SysRng).fill_bytes(&mut seed);
    let ca = ssh_key::PrivateKey::new(
        ssh_key::private::KeypairData::Ed25519(ssh_key::private::Ed25519Keypair::from_seed(&seed)),
        "example CA",
    )?;
    let ca_public = PublicKey::from_blob(&ca.public_key().to_bytes()?)?;

    // The server: a host key with its certificate, trusting the CA for users.
    let host_key = PrivateKey::generate_ed25519(&mut UnwrapErr(SysRng));
    let setup = ServerSetup {
        host_certificate: Some(certify(&ca, &host_key, CertType::Host, &["127.0.0.1"])?),
        host_key,
        trusted_user_cas: vec![ca_public.clone()],
        authorized_keys: AuthorizedKeys::default(),
        passwords: Passwords::None,
        log: no_log(),
        accept_env: Default::default(),
        sftp: Default::default(),
        forwarding: Default::default(),
        limits: Default::default(),
        allow_agent_forwarding: false,
    };
    let server = Conchd::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), &setup).await?;
    let port = server.local_addr()?.port();
    tokio::spawn(server.run());

    // The client: known_hosts holds only the CA, for this host.
    let known_hosts =
        std::env::temp_dir().join(format!("conch-cert-example-{}", std::process::id()));
    std::fs::write(
        &known_hosts,
        format!(
            "@cert-authority [127.0.0.1]:{port} {}\n",
            ca_public.to_openssh()
        ),
    )?;
    let verifier = KnownHostsVerifier::new(
        KnownHostsFile::new(&known_hosts),
        KnownHostsPolicy::Strict,
        Arc::new(NoUi),
    );
    let user_key = PrivateKey::generate_ed25519(&mut UnwrapErr(SysRng));
    let cert = certify(&ca, &user_key, CertType::User, &["alice"])?;
    let certified = user_key.with_certificate(&cert)?;

    let session = connect("127.0.0.1", port, ClientOptions::new(verifier)).await?;
    session
        .authenticate("alice", AuthMethods::new().key(certified))
        .await?;
    let status = session
        .exec("echo logged in with a certificate")
        .await?
        .exit_status()
        .await?;
    println!("host certificate trusted through @cert-authority; {status}");
    std::fs::remove_file(&known_hosts)?;
    Ok(())
}
