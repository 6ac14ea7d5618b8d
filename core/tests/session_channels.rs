//! End-to-end sessions between a client and a server `Connection` in
//! memory: exec with its streams and exit reports, refusals, many channels
//! at once, global and session requests, direct-tcpip, tiny windows.

mod common;

use common::*;
use conch_core::{ApiMisuse, ChannelEvent, ChannelId, ChannelOpenFailure, Event};

/// Drives until `ch` is closed on the client, panicking if it does not.
fn wait_closed(pair: &mut Pair, ch: ChannelId) {
    pair.drive();
    assert!(
        pair.client_app.channel(ch).closed,
        "channel {ch} not closed: {:#?}",
        pair.client.log
    );
}

#[test]
fn cat_echoes_stdin_and_half_close_still_receives_output() {
    let mut pair = connected();
    let ch = pair.exec("cat");
    let input = pattern(7, 100_000);
    // Data then EOF before the server has seen any of it: all the output
    // arrives after the client half-closed.
    let n = pair.client.conn.send_data(ch, &input).unwrap();
    assert_eq!(n, input.len(), "a fresh 2 MiB window takes 100 kB at once");
    pair.client.conn.send_eof(ch).unwrap();
    let stdout_at_eof = pair.client_app.channel(ch).stdout.len();
    // No data after our own EOF (RFC 4254 section 5.3).
    assert_eq!(
        pair.client.conn.send_data(ch, b"late"),
        Err(ApiMisuse::EofAlreadySent)
    );
    wait_closed(&mut pair, ch);
    let log = pair.client_app.channel(ch);
    assert!(
        log.stdout.len() > stdout_at_eof,
        "output kept flowing after EOF"
    );
    assert_eq!(log.stdout.len(), input.len());
    assert!(log.stdout == input, "echo differs");
    assert!(log.stderr.is_empty());
    assert_eq!(log.exit_status, Some(0));
    assert!(log.eof);
    assert_eq!(log.data_after_eof, 0);
    pair.drive();
    assert!(pair.server.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::Closed,
            ..
        }
    )));
    pair.assert_no_app_errors();
    pair.assert_alive();
}

#[test]
fn echo_stdout_and_err_stderr_are_kept_apart() {
    let mut pair = connected();
    let out = pair.exec("echo hello world");
    let err = pair.exec("err something broke");
    wait_closed(&mut pair, out);
    wait_closed(&mut pair, err);
    let o = pair.client_app.channel(out);
    assert_eq!(o.stdout, b"hello world\n");
    assert!(o.stderr.is_empty());
    assert_eq!(o.exit_status, Some(0));
    let e = pair.client_app.channel(err);
    assert!(e.stdout.is_empty());
    assert_eq!(e.stderr, b"something broke");
    assert!(e.other_extended.is_empty());
    assert_eq!(e.exit_status, Some(0));
    pair.assert_no_app_errors();
}

#[test]
fn exit_status_and_exit_signal_are_reported() {
    let mut pair = connected();
    let status = pair.exec("exit 3");
    let signal = pair.exec("kill KILL");
    wait_closed(&mut pair, status);
    wait_closed(&mut pair, signal);
    let s = pair.client_app.channel(status);
    assert_eq!(s.exit_status, Some(3));
    assert_eq!(s.exit_signal, None);
    let k = pair.client_app.channel(signal);
    assert_eq!(k.exit_status, None);
    assert_eq!(
        k.exit_signal,
        Some(("KILL".to_string(), true, "killed by SIGKILL".to_string()))
    );
    // exit-status/exit-signal come as their own events, not as requests.
    assert!(!pair.client.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::Request { .. },
            ..
        }
    )));
    pair.assert_no_app_errors();
}

#[test]
fn server_eof_first_then_client_input_still_read() {
    let mut pair = connected();
    let ch = pair.exec("wc");
    pair.drive();
    assert!(pair.client_app.channel(ch).eof, "server EOF did not arrive");
    assert!(!pair.client_app.channel(ch).closed);
    // The client keeps writing after the server's EOF.
    let input = pattern(3, 54_321);
    pair.client_send_all(ch, &input);
    pair.client.conn.send_eof(ch).unwrap();
    wait_closed(&mut pair, ch);
    assert_eq!(pair.client_app.channel(ch).exit_status, Some(54_321));
    assert!(pair.client_app.channel(ch).stdout.is_empty());
    pair.assert_no_app_errors();
}

#[test]
fn refused_exec_and_refused_channel_are_reported() {
    let mut pair = connected();
    let ch = pair.client.conn.open_session().unwrap();
    pair.drive();
    pair.client.conn.exec(ch, b"no-such-command").unwrap();
    pair.drive();
    assert_eq!(pair.client_app.channel(ch).replies, vec![false]);

    pair.server_app.accept_channels = false;
    let refused = pair.client.conn.open_session().unwrap();
    pair.drive();
    let log = pair.client_app.channel(refused);
    assert!(!log.opened);
    assert_eq!(
        log.open_failed,
        Some((
            ChannelOpenFailure::AdministrativelyProhibited,
            "no sessions today".to_string()
        ))
    );
    // A refused channel cannot carry data.
    assert!(matches!(
        pair.client.conn.send_data(refused, b"x"),
        Err(ApiMisuse::UnknownChannel(_))
    ));
    pair.assert_alive();
}

#[test]
fn a_thousand_concurrent_channels_each_carry_their_own_data() {
    const N: usize = 1000;
    // Windows small enough for the memory budget to hold all of them, and
    // no session limit (both have their own tests).
    let mut client = client_config();
    let mut server = server_config();
    for channels in [&mut client.channels, &mut server.channels] {
        channels.window_size = 16 * 1024;
        channels.max_sessions = u32::MAX;
    }
    let mut pair = Pair::with_configs(client, server);
    pair.connect();
    pair.client.log_data = false;
    pair.server.log_data = false;
    let channels: Vec<ChannelId> = (0..N)
        .map(|_| pair.client.conn.open_session().unwrap())
        .collect();
    pair.drive();
    for ch in &channels {
        pair.client.conn.exec(*ch, b"cat").unwrap();
    }
    pair.drive();
    let inputs: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut v = format!("channel {i}:").into_bytes();
            v.extend(pattern(i as u64, 1000 + (i * 37) % 3000));
            v
        })
        .collect();
    // All channels write at once; the shared send buffer takes what it can
    // and the rest goes after a drive.
    let mut offsets = vec![0usize; N];
    let mut rounds = 0;
    while offsets.iter().zip(&inputs).any(|(o, i)| *o < i.len()) {
        rounds += 1;
        assert!(rounds < 1000, "sending stalled");
        for ((ch, input), off) in channels.iter().zip(&inputs).zip(offsets.iter_mut()) {
            if *off < input.len() {
                *off += pair.client.conn.send_data(*ch, &input[*off..]).unwrap();
                if *off == input.len() {
                    pair.client.conn.send_eof(*ch).unwrap();
                }
            }
        }
        pair.drive();
    }
    pair.drive();
    let mut ids = std::collections::HashSet::new();
    for (ch, input) in channels.iter().zip(&inputs) {
        assert!(ids.insert(*ch), "channel id {ch} handed out twice");
        let log = pair.client_app.channel(*ch);
        assert!(log.opened && log.replies == vec![true], "{ch}");
        assert!(log.stdout == *input, "channel {ch}: output differs");
        assert_eq!(log.exit_status, Some(0), "{ch}");
        assert!(log.closed, "{ch}");
    }
    assert_eq!(
        pair.server.count(|e| matches!(
            e,
            Event::Channel {
                event: ChannelEvent::Closed,
                ..
            }
        )),
        N
    );
    pair.assert_no_app_errors();
    pair.assert_alive();
}

#[test]
fn global_requests_resolve_to_reply_data_or_failure_in_order() {
    let mut pair = connected();
    pair.client.new_events();
    pair.client
        .conn
        .global_request("unknown@conch.test", b"", true)
        .unwrap();
    pair.client
        .conn
        .global_request(ECHO_GLOBAL_REQUEST, b"\x00\x00\x00\x05hello", true)
        .unwrap();
    // Without want-reply, nothing comes back.
    pair.client
        .conn
        .global_request(ECHO_GLOBAL_REQUEST, b"quiet", false)
        .unwrap();
    pair.drive();
    let replies: Vec<(bool, Vec<u8>)> = pair
        .client
        .new_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::GlobalReply { success, data } => Some((success, data.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        vec![
            (false, Vec::new()),
            (true, b"\x00\x00\x00\x05hello".to_vec())
        ]
    );
    assert_eq!(
        pair.server
            .count(|e| matches!(e, Event::GlobalRequest { .. })),
        3
    );
    pair.assert_no_app_errors();
    pair.assert_alive();
}

#[test]
fn session_requests_are_decoded_and_answered_in_order() {
    use conch_core::{ChannelRequest, WindowSize};
    let mut pair = connected();
    let ch = pair.client.conn.open_session().unwrap();
    pair.drive();
    let size = WindowSize {
        cols: 132,
        rows: 43,
        width_px: 0,
        height_px: 0,
    };
    let requests = [
        ChannelRequest::PtyReq {
            term: "xterm-256color".into(),
            size,
            modes: vec![53, 0, 0, 0, 1, 0],
        },
        ChannelRequest::Env {
            name: "LANG".into(),
            value: "C.UTF-8".into(),
        },
        ChannelRequest::Shell,
        ChannelRequest::Exec {
            command: b"echo ok".to_vec(),
        },
    ];
    // All sent before any answer comes back.
    for r in &requests {
        pair.client.conn.channel_request(ch, r, true).unwrap();
    }
    pair.client
        .conn
        .channel_request(
            ch,
            &ChannelRequest::WindowChange {
                size: WindowSize { cols: 80, ..size },
            },
            false,
        )
        .unwrap();
    pair.drive();
    let log = pair.client_app.channel(ch);
    assert_eq!(log.replies, vec![true, true, false, true]);
    assert_eq!(log.stdout, b"ok\n");
    let server_ch = *pair.server_app.channels.keys().next().unwrap();
    let seen: Vec<(ChannelRequest, bool)> =
        pair.server_app.channels[&server_ch].log.requests.clone();
    let mut expected: Vec<(ChannelRequest, bool)> =
        requests.iter().cloned().map(|r| (r, true)).collect();
    expected.push((
        ChannelRequest::WindowChange {
            size: WindowSize { cols: 80, ..size },
        },
        false,
    ));
    assert_eq!(seen, expected);
    pair.assert_no_app_errors();
}

#[test]
fn direct_tcpip_open_carries_its_endpoints_and_its_refusal_reason() {
    let mut pair = connected();
    let ch = pair
        .client
        .conn
        .open_direct_tcpip("example.org", 443, "127.0.0.1", 50_000)
        .unwrap();
    pair.drive();
    let (kind, data) = pair
        .server
        .log
        .iter()
        .find_map(|e| match e {
            Event::Channel {
                event: ChannelEvent::OpenRequest { kind, data, .. },
                ..
            } => Some((kind.clone(), data.clone())),
            _ => None,
        })
        .expect("open request on the server");
    assert_eq!(kind, "direct-tcpip");
    // RFC 4254 section 7.2: host, port, originator address, originator port.
    let mut expected = Vec::new();
    for (s, n) in [("example.org", 443u32), ("127.0.0.1", 50_000)] {
        expected.extend((s.len() as u32).to_be_bytes());
        expected.extend(s.as_bytes());
        expected.extend(n.to_be_bytes());
    }
    assert_eq!(&data[..], &expected[..]);
    let log = pair.client_app.channel(ch);
    assert_eq!(
        log.open_failed,
        Some((
            ChannelOpenFailure::UnknownChannelType,
            "unknown channel type".into()
        ))
    );
    pair.assert_alive();
}

#[test]
fn tiny_windows_and_packets_still_move_data_intact() {
    let mut client = client_config();
    client.channels.window_size = 1024;
    client.channels.max_packet_size = 256;
    let mut server = server_config();
    server.channels.window_size = 700;
    server.channels.max_packet_size = 100;
    let mut pair = Pair::with_configs(client, server);
    pair.connect();
    let ch = pair.exec("cat");
    let input = pattern(21, 100_000);
    pair.client_send_all(ch, &input);
    pair.client.conn.send_eof(ch).unwrap();
    pair.drive();
    let log = pair.client_app.channel(ch);
    assert!(log.closed);
    assert!(log.stdout == input, "echo differs");
    // Never more in the receiver's hands than the window it granted.
    assert!(log.max_unconsumed <= 1024, "{}", log.max_unconsumed);
    let server_ch = *pair.server_app.channels.keys().next().unwrap();
    assert!(pair.server_app.channels[&server_ch].log.max_unconsumed <= 700);
    pair.assert_no_app_errors();
    pair.assert_alive();
}
