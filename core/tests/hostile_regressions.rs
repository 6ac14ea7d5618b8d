//! Every input the fuzzers (`fuzz/`, see its README.md) ever crashed on,
//! replayed through the very harness that found it: `fuzz/src/harness.rs`,
//! included here by path, so `cargo test` keeps them fixed without
//! cargo-fuzz or a nightly toolchain.
//!
//! Inputs live in `tests/fuzz_regressions/<target>/`, one file each, named
//! after what they caught. A new crash is added by copying the artifact
//! there (`fuzz/artifacts/<target>/crash-...`) under a descriptive name.

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
fn agent_codec_inputs() {
    replay("agent_codec", harness::agent_codec);
}

/// The seeds the fuzzers start from are honest sessions recorded against
/// an honest peer; replayed, they must get as deep as the live run did
/// (logged in, channels open), or the fuzzers would start shallow. This
/// also runs the harness's loop contract checks on ordinary sessions.
#[test]
fn recorded_sessions_replay_to_a_logged_in_connection_with_channels() {
    use harness::{
        act, null_client_config, null_server_config, record_session, run_records, Driver,
    };
    let script = [
        (act::OPEN_SESSION, 0),
        (act::REQUEST, 0x80),
        (act::SEND, 3),
        (act::REKEY, 0),
        (act::SEND, 200),
        (act::TICK, 30),
    ];
    for server in [false, true] {
        let input = record_session(server, 0, &script);
        let driver = if server {
            Driver::server(null_server_config(), false)
        } else {
            Driver::client(null_client_config(), false)
        };
        let driver = run_records(driver, &input);
        assert!(driver.conn.is_authenticated(), "{}", driver.summary());
        assert!(driver.conn.error().is_none(), "{}", driver.summary());
        assert!(
            driver.summary().contains("ChannelId"),
            "{}",
            driver.summary()
        );
    }
    // The decoder seed gets through a real key exchange.
    let mut seed = vec![63];
    seed.extend_from_slice(&harness::real_server_flight());
    let driver = harness::packet_decoder_driver(&seed);
    assert!(driver.conn.session_id().is_some(), "{}", driver.summary());
    assert!(driver.conn.error().is_none(), "{}", driver.summary());
}
