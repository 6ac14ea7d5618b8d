//! The agent codec against OpenSSH: the client side talks to a real
//! `ssh-agent`, and the agent side ([`MemoryAgent`]) serves OpenSSH's
//! `ssh-add` and `ssh-keygen -Y sign`. The sockets are std sockets opened
//! here in the test; the codec itself does no I/O.
#![cfg(unix)]
// Tests may do I/O and read the clock; the library under test may not.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use conch_core::agent::{sign_flags, FrameDecoder, MemoryAgent, Request, Response};
use conch_core::{PrivateKey, PublicKey};

/// A scratch directory removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("conch-agent-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `ssh-agent` child, killed when the test ends however it ends.
struct AgentProcess(Child);

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is openssh-client installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Makes an Ed25519 key with `ssh-keygen` and returns its path.
fn keygen(dir: &Path, comment: &str) -> PathBuf {
    let path = dir.join("id_ed25519");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(&path));
    path
}

/// Sends one request and reads one response with the codec.
fn round_trip(stream: &mut UnixStream, request: &Request) -> Response {
    stream.write_all(&request.encode().unwrap()).unwrap();
    let mut decoder = FrameDecoder::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).expect("agent answers in time");
        assert!(n > 0, "agent closed the connection");
        let mut input = &buf[..n];
        if let Some(response) = decoder.decode_response(&mut input).unwrap() {
            assert!(input.is_empty(), "one answer per request");
            return response;
        }
    }
}

fn wait_for_socket(path: &Path) -> UnixStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("ssh-agent socket never appeared: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn client_codec_lists_and_signs_with_a_real_ssh_agent() {
    let dir = TempDir::new("client");
    let key_path = keygen(&dir.0, "conch-agent-test");
    let sock = dir.0.join("agent.sock");
    let _agent = AgentProcess(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent is installed (openssh-client)"),
    );
    let mut stream = wait_for_socket(&sock);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    // Empty at first.
    assert_eq!(
        round_trip(&mut stream, &Request::RequestIdentities),
        Response::Identities(vec![])
    );

    run(Command::new("ssh-add")
        .arg("-q")
        .arg(&key_path)
        .env("SSH_AUTH_SOCK", &sock));

    let Response::Identities(ids) = round_trip(&mut stream, &Request::RequestIdentities) else {
        panic!("no identities answer");
    };
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].comment, "conch-agent-test");
    let listed = ids[0].public_key().unwrap();
    let on_disk = std::fs::read_to_string(key_path.with_extension("pub")).unwrap();
    assert_eq!(
        listed.blob(),
        PublicKey::from_openssh(&on_disk).unwrap().blob()
    );

    // The agent signs; our verifier accepts it, and not for other data.
    let data = b"an SSH_MSG_USERAUTH_REQUEST to be signed".to_vec();
    let signed = round_trip(
        &mut stream,
        &Request::Sign {
            key_blob: listed.blob().to_vec(),
            data: data.clone(),
            flags: sign_flags("ssh-ed25519"),
        },
    );
    let Response::Signature(sig) = signed else {
        panic!("expected a signature, got {signed:?}");
    };
    assert!(listed.verify("ssh-ed25519", &data, &sig));
    assert!(!listed.verify("ssh-ed25519", b"other data", &sig));

    // A key the agent does not hold, and a request we never send: failure.
    let mut rng =
        <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1);
    let stranger = PrivateKey::generate_ed25519(&mut rng);
    let refused = Request::Sign {
        key_blob: stranger.public_key().blob().to_vec(),
        data,
        flags: 0,
    };
    assert_eq!(round_trip(&mut stream, &refused), Response::Failure);
    let unknown = Request::Other {
        kind: 200,
        body: vec![],
    };
    assert_eq!(round_trip(&mut stream, &unknown), Response::Failure);
}

/// Serves `agent` on `listener` until the test ends, one thread per client.
fn serve(listener: UnixListener, agent: MemoryAgent) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let agent = agent.clone();
            std::thread::spawn(move || {
                let mut decoder = FrameDecoder::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let mut input = &buf[..n];
                    while !input.is_empty() {
                        match decoder.decode(&mut input) {
                            Ok(Some(message)) => {
                                let answer = agent.answer_message(&message).encode().unwrap();
                                if stream.write_all(&answer).is_err() {
                                    return;
                                }
                            }
                            Ok(None) => {}
                            Err(_) => return,
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn memory_agent_serves_openssh_tools() {
    let dir = TempDir::new("server");
    let key_path = keygen(&dir.0, "unused");
    let pem = std::fs::read(&key_path).unwrap();
    let key = PrivateKey::from_openssh(&pem, None).unwrap();
    let mut agent = MemoryAgent::new();
    agent.add(key.clone(), "served by conch");
    let sock = dir.0.join("memory.sock");
    serve(UnixListener::bind(&sock).unwrap(), agent);

    // ssh-add -L lists the key through our IDENTITIES_ANSWER.
    let out = run(Command::new("ssh-add")
        .arg("-L")
        .env("SSH_AUTH_SOCK", &sock));
    let listing = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        listing.trim_end(),
        format!("{} served by conch", key.public_key().to_openssh())
    );

    // ssh-keygen -Y sign with only the public key asks the agent to sign,
    // and OpenSSH then verifies the result.
    let message = dir.0.join("message");
    std::fs::write(&message, b"signed through the conch agent codec\n").unwrap();
    let pub_path = key_path.with_extension("pub");
    run(Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "conch-test", "-f"])
        .arg(&pub_path)
        .arg(&message)
        .env("SSH_AUTH_SOCK", &sock));
    let check = Command::new("ssh-keygen")
        .args(["-Y", "check-novalidate", "-n", "conch-test", "-s"])
        .arg(message.with_extension("sig"))
        .stdin(std::fs::File::open(&message).unwrap())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "OpenSSH rejected the agent's signature: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}
