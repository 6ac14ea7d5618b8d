//! Every input the fuzzers (`fuzz/`, see its README.md) ever crashed on,
//! replayed through the very harness that found it: `fuzz/src/harness.rs`,
//! included here by path, so `cargo test` keeps them fixed without
//! cargo-fuzz or a nightly toolchain.
//!
//! Inputs live in `tests/fuzz_regressions/<target>/`, one file each, named
//! after what they caught. A new crash is added by copying the artifact
//! there (`fuzz/artifacts/<target>/crash-...`) under a descriptive name.

// This test reads (and on request writes) its input files.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[allow(dead_code)]
#[path = "../../fuzz/src/harness.rs"]
mod harness;

use std::path::PathBuf;

/// The committed inputs of one target, sorted by name.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read input"))
        })
        .collect()
}

/// Runs `target` on each input; a panic names the file.
fn replay(target: &str, run: fn(&[u8])) {
    for (name, data) in inputs(target) {
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}/{name} fails again");
    }
}

#[test]
fn client_connection_inputs() {
    replay("client_connection", harness::client_connection);
}

#[test]
fn server_connection_inputs() {
    replay("server_connection", harness::server_connection);
}

#[test]
fn packet_decoder_inputs() {
    replay("packet_decoder", harness::packet_decoder);
}

#[test]
fn known_hosts_inputs() {
    replay("known_hosts", harness::known_hosts);
}

#[test]
fn private_key_inputs() {
    replay("private_key", harness::private_key);
}

#[test]
fn certificate_inputs() {
    replay("certificate", harness::certificate);
}

#[test]
fn agent_codec_inputs() {
    replay("agent_codec", harness::agent_codec);
}

/// The seeds the fuzzers start from are honest sessions recorded against
/// an honest peer; replayed, they must get as deep as the live run did
/// (logged in, channels open), or the fuzzers would start shallow. This
/// also runs the harness's loop contract checks on ordinary sessions.
#[test]
fn recorded_sessions_replay_to_a_logged_in_connection_with_channels() {
    use conch_core::Command;
    use harness::{
        act, calls, null_client_config, null_server_config, record_compressed_session,
        record_session, run_records, Driver, Record,
    };
    let script = [
        Record::Command(calls::open_session()),
        Record::Command(calls::exec(0)),
        Record::Command(calls::send(0, None, 291)),
        Record::Command(Command::Rekey),
        Record::Command(calls::send(0, None, 19_400)),
        Record::Act(act::TICK, 30),
    ];
    for (server, compressed) in [(false, false), (true, false), (false, true), (true, true)] {
        let input = if compressed {
            record_compressed_session(server, 0, &script)
        } else {
            record_session(server, 0, &script)
        };
        let driver = if server {
            Driver::server(null_server_config(), false)
        } else {
            Driver::client(null_client_config(), false)
        };
        let driver = run_records(driver, &input);
        assert!(driver.ep.conn.is_authenticated(), "{}", driver.summary());
        assert!(driver.ep.conn.error().is_none(), "{}", driver.summary());
        assert!(
            driver.summary().contains("ChannelId"),
            "{}",
            driver.summary()
        );
        // The compressed seeds really run deflated both ways (the
        // transport's Debug says so), the others not.
        let state = format!("{:?}", driver.ep.conn);
        for field in ["inflate", "deflate"] {
            assert!(
                state.contains(&format!("{field}: {compressed}")),
                "{field} should be {compressed}: {state}"
            );
        }
    }
    // The decoder seed gets through a real key exchange.
    // Split 0: byte by byte, so each answer of the server arrives after the
    // question it answers, as it did when recorded.
    let mut seed = vec![0];
    seed.extend_from_slice(&harness::real_server_flight());
    let driver = harness::packet_decoder_driver(&seed);
    assert!(
        driver.ep.conn.session_id().is_some(),
        "{}",
        driver.summary()
    );
    assert!(driver.ep.conn.error().is_none(), "{}", driver.summary());
}

/// A small deterministic fuzzer for every `cargo test`: seeded mutations of
/// the recorded sessions (bytes flipped, runs inserted, deleted, repeated,
/// the input cut short) through the connection targets, whose driver
/// checks the loop contract. cargo-fuzz explores far more; this keeps the
/// contract checked on every change without it.
#[test]
fn seeded_mutations_of_recorded_sessions_keep_the_contract() {
    use conch_core::{ChannelId, Command};
    use harness::{calls, record_compressed_session, record_session, Record};
    use rand_chacha::rand_core::{Rng, SeedableRng};
    let script = [
        Record::Command(calls::open_session()),
        Record::Command(calls::exec(0)),
        Record::Command(calls::send(0, None, 291)),
        Record::Command(calls::global()),
        Record::Command(Command::Rekey),
        Record::Command(calls::send(0, None, 1940)),
        Record::Command(Command::CloseChannel {
            channel: ChannelId(0),
        }),
    ];
    let seeds = [
        (false, record_session(false, 0, &script)),
        (true, record_session(true, 0, &script)),
        (true, record_session(true, 0x60, &script)),
        // Deflated packets after authentication: mutations reach the
        // inflater (a corrupt or oversized stream must end the connection
        // cleanly).
        (false, record_compressed_session(false, 0, &script)),
        (true, record_compressed_session(true, 0, &script)),
    ];
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0xf022);
    for round in 0..400 {
        let (server, seed) = &seeds[round % seeds.len()];
        let mut input = seed.clone();
        for _ in 0..1 + rng.next_u32() % 4 {
            mutate(&mut input, &mut rng);
        }
        let run = if *server {
            harness::server_connection
        } else {
            harness::client_connection
        };
        let outcome = std::panic::catch_unwind(|| run(&input));
        if outcome.is_err() {
            let path = std::env::temp_dir().join(format!("conch-mutation-{round}"));
            let _ = std::fs::write(&path, &input);
            panic!("round {round} fails; input written to {}", path.display());
        }
    }
}

/// The files of `dirs` (relative to the repository), sorted by path: the
/// seeds of a parser target.
fn seed_files(dirs: &[&str]) -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut paths: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flatten()
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("read seed"))
        .collect()
}

/// The deterministic fuzzer of [`seeded_mutations_of_recorded_sessions_keep_the_contract`]
/// for the parser targets, from their committed seeds and kept inputs:
/// `rounds` seeded mutations each. A failing input is written to the temp
/// directory and printed in base64, and the panic names both.
fn mutate_seeds(target: &str, run: fn(&[u8]), dirs: &[&str], rounds: usize) {
    use rand_chacha::rand_core::{Rng, SeedableRng};
    let mut seeds = seed_files(dirs);
    if seeds.is_empty() {
        seeds.push(Vec::new());
    }
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0xf023);
    for round in 0..rounds {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rng.next_u32() % 4 {
            mutate(&mut input, &mut rng);
        }
        if std::panic::catch_unwind(|| run(&input)).is_err() {
            let path = std::env::temp_dir().join(format!("conch-{target}-mutation-{round}"));
            let _ = std::fs::write(&path, &input);
            let b64 = <base64ct::Base64 as base64ct::Encoding>::encode_string(&input);
            panic!(
                "{target}: mutation round {round} fails; input written to {} \
                 (keep it as core/tests/fuzz_regressions/{target}/WHAT-IT-CAUGHT); \
                 base64: {b64}",
                path.display()
            );
        }
    }
}

#[test]
fn seeded_mutations_of_the_parser_seeds_keep_their_checks() {
    let regressions = |t: &str| format!("core/tests/fuzz_regressions/{t}");
    let corpus = |t: &str| format!("fuzz/corpus/{t}");
    // (target, harness, seed directories, rounds)
    type Target = (&'static str, fn(&[u8]), Vec<String>, usize);
    let targets: [Target; 5] = [
        (
            "packet_decoder",
            harness::packet_decoder,
            vec![corpus("packet_decoder"), regressions("packet_decoder")],
            300,
        ),
        (
            "known_hosts",
            harness::known_hosts,
            vec![
                corpus("known_hosts"),
                regressions("known_hosts"),
                "core/tests/fixtures/known_hosts".into(),
            ],
            2000,
        ),
        (
            "private_key",
            harness::private_key,
            vec![
                regressions("private_key"),
                "core/tests/fixtures/host_keys".into(),
            ],
            500,
        ),
        (
            "certificate",
            harness::certificate,
            vec![regressions("certificate")],
            2000,
        ),
        (
            "agent_codec",
            harness::agent_codec,
            vec![corpus("agent_codec"), regressions("agent_codec")],
            2000,
        ),
    ];
    for (target, run, dirs, rounds) in targets {
        let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
        mutate_seeds(target, run, &dirs, rounds);
    }
}

/// One random change to `input`.
fn mutate(input: &mut Vec<u8>, rng: &mut impl rand_chacha::rand_core::Rng) {
    let len = input.len().max(1);
    let at = rng.next_u32() as usize % len;
    let n = 1 + rng.next_u32() as usize % 64;
    match rng.next_u32() % 6 {
        0 => {
            if let Some(b) = input.get_mut(at) {
                *b ^= 1 << (rng.next_u32() % 8);
            }
        }
        1 => {
            if let Some(b) = input.get_mut(at) {
                *b = rng.next_u32() as u8;
            }
        }
        2 => {
            let mut junk = vec![0u8; n];
            rng.fill_bytes(&mut junk);
            input.splice(at.min(input.len())..at.min(input.len()), junk);
        }
        3 => {
            let end = (at + n).min(input.len());
            input.drain(at.min(end)..end);
        }
        4 => {
            let end = (at + n).min(input.len());
            let copy = input[at.min(end)..end].to_vec();
            input.splice(end..end, copy.iter().copied().cycle().take(copy.len() * 8));
        }
        _ => input.truncate(at),
    }
}

/// Writes the regression input for the unread-answers bug (see
/// `server_connection/unread-keepalive-answers-grow-without-bound`):
/// `CONCH_WRITE_REGRESSIONS=1 cargo test -p conch-core --test
/// hostile_regressions write_`.
#[test]
fn write_unread_keepalive_answers_input() {
    use conch_core::msg;
    use conch_core::wire::Encode;
    use harness::{act, calls, encode_act, encode_feed, record_session, Record};
    if std::env::var_os("CONCH_WRITE_REGRESSIONS").is_none() {
        return;
    }
    // Logged in, then the socket stalls and the client asks for keepalive
    // answers 64 * 255 * 20 times without reading any: 5 MB of answers
    // with the null cipher, over the harness's 3 MiB bound.
    let mut input = record_session(true, 0, &[Record::Command(calls::open_session())]);
    input.extend_from_slice(&encode_act(act::STALL, 0));
    let mut request = vec![msg::GLOBAL_REQUEST];
    request.put_str("keepalive@openssh.com");
    request.put_bool(true);
    // The null cipher leaves packets in the clear: frame it as before
    // NEWKEYS (block 8, padding at least 4).
    let mut padding = 8 - (5 + request.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let mut packet = ((1 + request.len() + padding) as u32)
        .to_be_bytes()
        .to_vec();
    packet.push(padding as u8);
    packet.extend_from_slice(&request);
    packet.resize(packet.len() + padding, 0);
    input.extend_from_slice(&encode_feed(&packet));
    for _ in 0..20 {
        input.extend_from_slice(&encode_act(act::REPEAT, 255));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "tests/fuzz_regressions/server_connection/unread-keepalive-answers-grow-without-bound",
    );
    std::fs::write(path, input).unwrap();
}
