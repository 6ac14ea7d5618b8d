use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::auth::AuthDecision;
use crate::command::Command;
use crate::config::{ClientConfig, ServerConfig};
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest, Prompt, WindowSize};
use crate::keys::PrivateKey;

fn host_key() -> PrivateKey {
    PrivateKey::generate_ed25519(&mut rand_chacha::ChaCha20Rng::seed_from_u64(11))
}

fn every_call() -> Vec<Call<'static>> {
    let key = host_key().public_key().clone();
    let size = WindowSize {
        cols: 80,
        rows: 24,
        width_px: 640,
        height_px: 480,
    };
    let requests = vec![
        ChannelRequest::PtyReq {
            term: "xterm".into(),
            size,
            modes: vec![1, 0, 0, 0, 3, 0],
        },
        ChannelRequest::Env {
            name: "LANG".into(),
            value: "C".into(),
        },
        ChannelRequest::Shell,
        ChannelRequest::Exec {
            command: b"echo \xff".to_vec(),
        },
        ChannelRequest::Subsystem {
            name: "sftp".into(),
        },
        ChannelRequest::WindowChange { size },
        ChannelRequest::AuthAgentReq,
        ChannelRequest::XonXoff {
            client_can_do: true,
        },
        ChannelRequest::Signal {
            name: "TERM".into(),
        },
        ChannelRequest::ExitStatus { code: 3 },
        ChannelRequest::ExitSignal {
            signal: "KILL".into(),
            core_dumped: true,
            message: "boom".into(),
        },
        ChannelRequest::Other {
            name: "x@example.com".into(),
            data: bytes::Bytes::from_static(b"\x00\x01"),
        },
    ];
    let decisions = vec![
        AuthDecision::Accept,
        AuthDecision::Reject,
        AuthDecision::Partial {
            methods: vec!["password".into(), "publickey".into()],
        },
        AuthDecision::InfoRequest {
            name: "n".into(),
            instruction: "i".into(),
            prompts: vec![Prompt {
                prompt: "Password: ".into(),
                echo: false,
            }],
        },
        AuthDecision::ChangePassword {
            prompt: "expired".into(),
        },
    ];
    let ch = ChannelId(7);
    let mut calls = vec![
        Call::HandleInput {
            at: 12_345,
            data: Cow::Owned(b"SSH-2.0-x\r\n".to_vec()),
        },
        Call::HandleInput {
            at: -5,
            data: Cow::Owned(Vec::new()),
        },
        Call::HandleEof { at: i64::MAX },
        Call::HandleTimeout { at: i64::MIN },
        Call::PollEvent,
        Call::ConsumeTransmit { n: u64::MAX },
    ];
    let mut commands = vec![
        Command::Rekey,
        Command::Disconnect {
            description: "bye".into(),
        },
        Command::AcceptHostKey,
        Command::RejectHostKey,
        Command::AuthNone { user: "u".into() },
        Command::AuthPassword {
            user: "u".into(),
            password: "p".into(),
        },
        Command::AuthChangePassword {
            old: "o".into(),
            new: "n".into(),
        },
        Command::AuthPublickey {
            user: "u".into(),
            key: Cow::Owned(key),
        },
        Command::AuthSignature {
            blob: Cow::Owned(vec![1, 2, 3]),
        },
        Command::AuthKeyboardInteractive {
            user: "u".into(),
            submethods: "".into(),
        },
        Command::AuthInfoResponse {
            responses: Cow::Owned(vec!["a".into(), "".into()]),
        },
        Command::OpenChannel {
            kind: "direct-tcpip".into(),
            extra: Cow::Owned(vec![0; 9]),
        },
        Command::AcceptChannel { channel: ch },
        Command::RejectChannel {
            channel: ch,
            reason: ChannelOpenFailure::Other(99),
            description: "no".into(),
        },
        Command::ChannelReply {
            channel: ch,
            success: true,
        },
        Command::SendData {
            channel: ch,
            ext: None,
            data: Cow::Owned(vec![0xff; 3]),
        },
        Command::SendData {
            channel: ch,
            ext: Some(1),
            data: Cow::Owned(b"err".to_vec()),
        },
        Command::SendEof { channel: ch },
        Command::CloseChannel { channel: ch },
        Command::Consume {
            channel: ChannelId(u32::MAX),
            n: 1 << 40,
        },
        Command::GlobalRequest {
            name: "keepalive@openssh.com".into(),
            data: Cow::Owned(Vec::new()),
            want_reply: true,
        },
        Command::GlobalReply {
            success: false,
            data: Cow::Owned(vec![5]),
        },
    ];
    commands.extend(requests.into_iter().map(|r| Command::ChannelRequest {
        channel: ch,
        request: Cow::Owned(r),
        want_reply: false,
    }));
    commands.extend(decisions.into_iter().map(|d| Command::AuthDecision {
        decision: Cow::Owned(d),
    }));
    calls.extend(commands.into_iter().map(Call::Command));
    calls
}

fn every_outcome() -> Vec<Outcome> {
    vec![
        Outcome::Done,
        Outcome::Ok,
        Outcome::Value(0),
        Outcome::Value(u64::MAX),
        Outcome::Err("API misuse: no such channel 3".into()),
        Outcome::Event([7; 32]),
        Outcome::NoEvent,
        Outcome::Transmitted([9; 32]),
    ]
}

fn server_header() -> Header {
    let mut config = ServerConfig::new(vec![host_key()]);
    config.auth_banner = Some("welcome".into());
    config.max_auth_attempts = 3;
    config.transport.keepalive_interval = Some(Duration::new(15, 5));
    config.transport.rekey_interval = None;
    config.transport.rekey_bytes = 4096;
    config.transport.strict_kex = false;
    config.channels.window_size = 1234;
    config
        .transport
        .algorithms
        .set_compression(&["zlib@openssh.com", "none"]);
    Header {
        config: RecordedConfig::Server(Arc::new(config)),
        seed: [3; 32],
    }
}

#[test]
fn every_call_and_outcome_round_trips() {
    let calls = every_call();
    let outcomes = every_outcome();
    let records: Vec<Record<'static>> = calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| Record {
            call,
            outcome: outcomes[i % outcomes.len()].clone(),
        })
        .collect();
    let transcript = Transcript {
        header: server_header(),
        records: records.clone(),
        truncated: false,
    };
    let bytes = transcript.encode().unwrap();
    let back = Transcript::decode(&bytes).unwrap();
    assert!(!back.truncated);
    assert_eq!(back.records, records);
    // Every record prints as one line.
    for r in &back.records {
        let line = r.call.to_string();
        assert!(!line.contains('\n'), "{line}");
    }
}

#[test]
fn the_header_rebuilds_the_same_configuration() {
    let header = server_header();
    let mut bytes = Vec::new();
    header.encode(&mut bytes).unwrap();
    assert_eq!(&bytes[..8], MAGIC);
    let back = Transcript::decode(&bytes).unwrap();
    assert!(back.records.is_empty());
    assert_eq!(back.header.seed, [3; 32]);
    let (RecordedConfig::Server(want), RecordedConfig::Server(got)) =
        (&header.config, &back.header.config)
    else {
        panic!("role changed");
    };
    assert_eq!(got.host_keys.len(), 1);
    assert_eq!(
        got.host_keys[0].public_key(),
        want.host_keys[0].public_key()
    );
    assert_eq!(got.auth_methods, want.auth_methods);
    assert_eq!(got.auth_banner, want.auth_banner);
    assert_eq!(got.max_auth_attempts, 3);
    assert_eq!(got.channels, want.channels);
    let (t, w) = (&got.transport, &want.transport);
    assert_eq!(t.algorithms, w.algorithms);
    assert_eq!(t.software_version, w.software_version);
    assert_eq!(t.rekey_bytes, 4096);
    assert_eq!(t.rekey_interval, None);
    assert_eq!(t.keepalive_interval, Some(Duration::new(15, 5)));
    assert_eq!(t.keepalive_max, w.keepalive_max);
    assert_eq!(t.handshake_timeout, w.handshake_timeout);
    assert_eq!(t.max_packet_len, w.max_packet_len);
    assert!(!t.strict_kex);

    let client = Header {
        config: RecordedConfig::Client(Arc::new(ClientConfig {
            auth_timeout: Some(Duration::new(7, 3)),
            ..ClientConfig::default()
        })),
        seed: [4; 32],
    };
    let mut bytes = Vec::new();
    client.encode(&mut bytes).unwrap();
    let back = Transcript::decode(&bytes).unwrap();
    let RecordedConfig::Client(got) = &back.header.config else {
        panic!("role changed");
    };
    assert_eq!(got.auth_timeout, Some(Duration::new(7, 3)));
}

#[test]
fn a_recording_cut_mid_record_keeps_the_complete_records() {
    let mut bytes = Vec::new();
    server_header().encode(&mut bytes).unwrap();
    Record {
        call: Call::PollEvent,
        outcome: Outcome::NoEvent,
    }
    .encode(&mut bytes);
    let whole = bytes.len();
    Record {
        call: Call::HandleInput {
            at: 1,
            data: Cow::Owned(vec![1; 100]),
        },
        outcome: Outcome::Ok,
    }
    .encode(&mut bytes);
    let t = Transcript::decode(&bytes[..whole + 50]).unwrap();
    assert_eq!(t.records.len(), 1);
    assert!(t.truncated);
}

#[test]
fn foreign_or_future_files_are_refused() {
    assert_eq!(
        Transcript::decode(b"GIF89a..........").unwrap_err(),
        FormatError::NotATranscript
    );
    // Version 1 (before the client's auth timeout was recorded) and any
    // later version are refused, naming the version.
    for version in [1, FORMAT_VERSION + 1] {
        let mut bytes = MAGIC.to_vec();
        bytes.push(u8::try_from(version).unwrap());
        let error = Transcript::decode(&bytes).unwrap_err();
        assert_eq!(error, FormatError::UnsupportedVersion(version));
        assert!(
            error
                .to_string()
                .contains(&format!("version {version} is not supported")),
            "{error}"
        );
    }
    let mut bytes = Vec::new();
    server_header().encode(&mut bytes).unwrap();
    bytes.push(0xee);
    bytes.push(0);
    assert!(matches!(
        Transcript::decode(&bytes).unwrap_err(),
        FormatError::Invalid { what: "call", .. }
    ));
}

/// A client talking to nobody: its first output is its identification
/// line, so a transcript of it is small and fully predictable.
#[test]
fn a_recording_connection_replays_and_a_changed_outcome_is_the_divergence() {
    let base = crate::test_epoch();
    let config = Arc::new(ClientConfig::default());
    let mut conn = crate::Connection::client_recorded(config, [5; 32], base);
    assert!(conn.is_recording());
    let ident = conn.poll_transmit().unwrap().to_vec();
    assert!(ident.starts_with(b"SSH-2.0-Conch_"));
    conn.consume_transmit(4);
    conn.consume_transmit(ident.len() - 4);
    assert!(conn.poll_event().is_none());
    assert!(conn.send_data(ChannelId(0), b"x").is_err());
    conn.handle_input(base + Duration::from_millis(3), b"SSH-1.5-old\r\n");
    assert!(conn.error().is_some());
    while conn.poll_event().is_some() {}
    let bytes = conn.take_transcript();
    assert!(conn.take_transcript().is_empty(), "taken once");

    let summary = replay(&bytes, crate::test_epoch()).unwrap();
    assert_eq!(summary.transmitted_bytes, ident.len() as u64);
    assert_eq!(summary.events, 1, "Disconnected");

    let mut t = Transcript::decode(&bytes).unwrap();
    assert!(matches!(t.records[0].call, Call::ConsumeTransmit { n: 4 }));
    let calls: Vec<String> = t.records.iter().map(|r| r.call.to_string()).collect();
    assert_eq!(calls[2], "poll_event()");
    assert!(
        calls[3].starts_with("send_data(#0, 1 bytes"),
        "{}",
        calls[3]
    );
    assert!(
        calls[4].starts_with("+0.003000s handle_input(13 bytes b\"SSH-1.5-old\\r\\n\")"),
        "{}",
        calls[4]
    );
    // The API error is recorded, so a replay that let the call through
    // would be caught.
    t.records[3].outcome = Outcome::Value(1);
    let d = match replay(&t.encode().unwrap(), crate::test_epoch()) {
        Err(ReplayError::Divergence(d)) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(d.index, 3);
    assert_eq!(d.expected, "Ok(1)");
    assert!(d.actual.starts_with("Err(API misuse"), "{}", d.actual);
    assert!(d
        .to_string()
        .starts_with("replay diverged at record 3, send_data(#0"));
}

#[test]
fn not_recording_takes_nothing() {
    let mut conn = crate::Connection::client(
        Arc::new(ClientConfig::default()),
        seeded_rng([1; 32]),
        crate::test_epoch(),
    );
    assert!(!conn.is_recording());
    let _ = conn.poll_event();
    assert!(conn.take_transcript().is_empty());
}

/// `Command::decode` reads one command off the front of a byte string and
/// says where it ended, which is how the fuzz harness walks its input; a
/// command cut short or with an unknown tag is an error, never a guess.
#[test]
fn commands_decode_one_at_a_time_from_the_front() {
    let commands: Vec<Command<'static>> = every_call()
        .into_iter()
        .filter_map(|c| match c {
            Call::Command(command) => Some(command),
            _ => None,
        })
        .collect();
    let mut bytes = Vec::new();
    for command in &commands {
        command.encode(&mut bytes);
    }
    let mut rest = &bytes[..];
    for command in &commands {
        let (decoded, used) = Command::decode(rest).unwrap();
        assert_eq!(&decoded, command);
        rest = &rest[used..];
    }
    assert!(rest.is_empty());

    let mut one = Vec::new();
    Command::SendEof {
        channel: ChannelId(3),
    }
    .encode(&mut one);
    assert!(matches!(
        Command::decode(&one[..1]),
        Err(FormatError::Truncated { .. })
    ));
    // The input calls' tags are not commands.
    assert!(matches!(
        Command::decode(&[0x01, 0]),
        Err(FormatError::Invalid { what: "call", .. })
    ));
}
