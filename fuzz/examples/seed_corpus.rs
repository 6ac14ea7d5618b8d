//! Writes seed inputs for the connection targets: honest sessions against
//! an honest peer, recorded in the targets' record format (see
//! `src/harness.rs`), so the fuzzer starts from deep states.
//!
//! `cargo run --release --example seed_corpus -- corpus` (from `fuzz/`).

use std::path::Path;

use conch_core::{ChannelId, Command};
use conch_fuzz::harness::driver::user_key;
use conch_fuzz::harness::{
    act, calls, null_client_config, null_server_config, real_server_flight,
    record_compressed_session, record_session, run_records, Driver, Record,
};

fn write(dir: &Path, target: &str, name: &str, data: &[u8]) {
    let replayed = match target {
        "client_connection" => Some(run_records(
            Driver::client(null_client_config(), false),
            data,
        )),
        "server_connection" => Some(run_records(
            Driver::server(null_server_config(), false),
            data,
        )),
        _ => None,
    };
    if let Some(d) = replayed {
        eprintln!("{target}/{name}: {} bytes, {}", data.len(), d.summary());
    }
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("create corpus directory");
    std::fs::write(d.join(name), data).expect("write seed");
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    let dir = Path::new(&dir);
    let session = [
        Record::Command(calls::open_session()),
        Record::Command(calls::exec(0)),
        Record::Command(calls::send(0, None, 291)),
        Record::Command(calls::send(0, Some(1), 97)),
        Record::Command(Command::SendEof {
            channel: ChannelId(0),
        }),
        Record::Command(calls::global()),
        Record::Command(Command::Rekey),
        Record::Command(calls::send(0, None, 4000)),
        Record::Act(act::TICK, 30),
        Record::Command(Command::CloseChannel {
            channel: ChannelId(0),
        }),
        Record::Command(calls::open_direct_tcpip()),
        Record::Command(calls::exec(1)),
        Record::Act(act::CONSUME, 0),
    ];
    // Policies: the driver's answers (accept all, refuse channels and
    // requests, keep data unconsumed, and each server auth decision).
    for (i, policy) in [0u8, 0x0e, 0x10, 0x20, 0x40, 0x60, 0x80]
        .into_iter()
        .enumerate()
    {
        let client = record_session(false, policy, &session);
        write(dir, "client_connection", &format!("session-{i}"), &client);
        let server = record_session(true, policy, &session);
        write(dir, "server_connection", &format!("session-{i}"), &server);
    }
    // The same sessions compressed (zlib@openssh.com from authentication
    // on), with the answer-everything and keep-data-unconsumed policies.
    for (i, policy) in [0u8, 0x60].into_iter().enumerate() {
        let client = record_compressed_session(false, policy, &session);
        write(
            dir,
            "client_connection",
            &format!("session-zlib-{i}"),
            &client,
        );
        let server = record_compressed_session(true, policy, &session);
        write(
            dir,
            "server_connection",
            &format!("session-zlib-{i}"),
            &server,
        );
    }
    for (i, method) in [0u8, 1, 2, 3].into_iter().enumerate() {
        let script = [
            Record::Command(calls::auth(method, user_key().public_key())),
            Record::Command(calls::open_session()),
        ];
        let client = record_session(false, method, &script);
        write(dir, "client_connection", &format!("auth-{i}"), &client);
        let server = record_session(true, method, &script);
        write(dir, "server_connection", &format!("auth-{i}"), &server);
    }
    // The decoder target: a real server's side of a key exchange after the
    // identification line, with a few split sizes.
    for (i, split) in [0u8, 7, 63].into_iter().enumerate() {
        let mut seed = vec![split];
        seed.extend_from_slice(&real_server_flight());
        write(dir, "packet_decoder", &format!("kexinit-{i}"), &seed);
    }
    // known_hosts, keys and agent messages come from the tests' fixtures
    // (see README.md); a few inline ones here.
    write(
        dir,
        "known_hosts",
        "basic",
        b"example.com,192.0.2.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n@revoked * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n[*.example.org]:2222,!bad.example.org ssh-rsa AAAA\n# comment\n",
    );
    write(dir, "agent_codec", "identities", b"\x03\0\0\0\x01\x0b");
    write(
        dir,
        "agent_codec",
        "sign",
        b"\x05\0\0\0\x0e\x0d\0\0\0\x01k\0\0\0\x01d\0\0\0\x02",
    );
}
