//! The server's limits against one abusive client, through the public
//! [`Connection`](conch_core::Connection) after a real key exchange: the
//! memory budget and `max_sessions` (what a logged-in client can make the
//! server hold), the answers the application gives to requests the client
//! never reads (bounded like the core's own), and the delay before a
//! failed authentication is answered (OpenSSH's
//! `ensure_minimum_time_since`: no user enumeration by timing).

mod hostile;

use std::time::Duration;

use conch_core::msg;
use conch_core::wire::{Encode, Reader};
use conch_core::{
    AuthDecision, ChannelEvent, ChannelOpenFailure, Error, Event, PeerMisbehaved, ServerConfig,
};
use hostile::*;

// ----------------------------------------------------------------------
// Channels: the memory budget and MaxSessions
// ----------------------------------------------------------------------

fn open(kind: &str, sender: u32) -> Vec<u8> {
    let mut p = vec![msg::CHANNEL_OPEN];
    p.put_str(kind);
    p.put_u32(sender);
    p.put_u32(1 << 20);
    p.put_u32(32 * 1024);
    if kind == "direct-tcpip" {
        p.put_str("localhost");
        p.put_u32(22);
        p.put_str("127.0.0.1");
        p.put_u32(5000);
    }
    p
}

/// (the peer's channel number, the window granted) of each confirmation,
/// and (number, reason code) of each refusal.
type Answers = (Vec<(u32, u32)>, Vec<(u32, u32)>);

fn answers(peer: &Peer) -> Answers {
    let confirmed = peer
        .received_msgs(msg::CHANNEL_OPEN_CONFIRMATION)
        .iter()
        .map(|p| {
            let mut r = Reader::new(&p.payload[1..]);
            let recipient = r.u32().unwrap();
            let _ours = r.u32().unwrap();
            (recipient, r.u32().unwrap())
        })
        .collect();
    let refused = peer
        .received_msgs(msg::CHANNEL_OPEN_FAILURE)
        .iter()
        .map(|p| {
            let mut r = Reader::new(&p.payload[1..]);
            (r.u32().unwrap(), r.u32().unwrap())
        })
        .collect();
    (confirmed, refused)
}

#[test]
fn sessions_past_max_sessions_are_refused_and_the_connection_lives_on() {
    let (mut peer, mut victim) = Peer::logged_in_server(ServerConfig::new(vec![ed25519(7)]));
    let max = ServerConfig::new(vec![]).channels.max_sessions;
    assert!(max >= 50, "50 commands at once on one connection must fit");
    for i in 0..max + 10 {
        peer.send(&open("session", i));
    }
    peer.pump(&mut victim).expect("refusals are not fatal");
    let (confirmed, refused) = answers(&peer);
    assert_eq!(confirmed.len(), max as usize);
    assert_eq!(refused.len(), 10);
    assert!(refused
        .iter()
        .all(|&(_, code)| code == ChannelOpenFailure::ConnectFailed.code()));
    // A channel of another type still opens.
    peer.inject(&mut victim, &open("direct-tcpip", 1000))
        .unwrap();
    assert_eq!(answers(&peer).0.len(), max as usize + 1);
}

#[test]
fn what_one_client_can_make_the_server_buffer_stays_within_the_budget() {
    // The abuse: open channels until refused and fill every window
    // while the application reads nothing.
    let mut config = ServerConfig::new(vec![ed25519(7)]);
    config.channels.max_sessions = u32::MAX;
    let budget = config.channels.memory_budget;
    let (mut peer, mut victim) = Peer::logged_in_server(config);
    victim.policy.consume_data = false;
    for i in 0..2000 {
        peer.send(&open("session", i));
    }
    peer.pump(&mut victim).unwrap();
    let (confirmed, refused) = answers(&peer);
    assert!(confirmed.len() >= 50, "{}", confirmed.len());
    assert_eq!(confirmed.len() + refused.len(), 2000);
    assert!(refused
        .iter()
        .all(|&(_, code)| code == ChannelOpenFailure::ResourceShortage.code()));
    // Fill every window it was granted, in packets of its maximum size.
    let ours: Vec<(u32, u32)> = peer
        .received_msgs(msg::CHANNEL_OPEN_CONFIRMATION)
        .iter()
        .map(|p| {
            let mut r = Reader::new(&p.payload[1..]);
            let _recipient = r.u32().unwrap();
            (r.u32().unwrap(), r.u32().unwrap())
        })
        .collect();
    let chunk = vec![b'x'; 32 * 1024];
    let mut sent = 0usize;
    for (id, window) in ours {
        let mut left = window as usize;
        while left > 0 {
            let n = left.min(chunk.len());
            let mut p = vec![msg::CHANNEL_DATA];
            p.put_u32(id);
            p.put_string(&chunk[..n]);
            peer.send(&p);
            left -= n;
            sent += n;
        }
        peer.pump(&mut victim).unwrap();
    }
    let held: usize = victim
        .log
        .iter()
        .map(|e| match e {
            Event::Channel {
                event: ChannelEvent::Data { data },
                ..
            } => data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(held, sent);
    assert!(held <= budget, "held {held} of a budget of {budget}");
    // One byte more on any channel breaks its window.
    let mut p = vec![msg::CHANNEL_DATA];
    p.put_u32(0);
    p.put_string(b"!");
    let err = peer.inject(&mut victim, &p).unwrap_err();
    assert!(matches!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::WindowExceeded(_))
    ));
}

// ----------------------------------------------------------------------
// The delay before USERAUTH_FAILURE
// ----------------------------------------------------------------------

/// A server with the default (delayed) failures, the userauth service
/// accepted, deciding nothing by itself.
fn userauth_server() -> (Peer, Victim) {
    let mut peer = Peer::client();
    peer.auto_auth = false;
    let mut victim = Victim::server(ServerConfig::new(vec![ed25519(7)]));
    victim.policy.accept_auth = false;
    peer.establish(&mut victim, Stage::Encrypted);
    let mut p = vec![msg::SERVICE_REQUEST];
    p.put_str("ssh-userauth");
    peer.inject(&mut victim, &p).unwrap();
    (peer, victim)
}

fn password_request(user: &str, password: &str) -> Vec<u8> {
    let mut p = vec![msg::USERAUTH_REQUEST];
    p.put_str(user);
    p.put_str("ssh-connection");
    p.put_str("password");
    p.put_bool(false);
    p.put_str(password);
    p
}

/// Rejects the pending request, then runs the timer `poll_timeout` asks
/// for at once (its instant has come), as the loop contract does: that
/// fixes the time of the decision.
fn reject(victim: &mut Victim) {
    victim
        .call(|c| c.auth_decision(AuthDecision::Reject))
        .unwrap();
    assert_eq!(victim.conn.poll_timeout(), Some(victim.now()));
    victim.advance(Duration::ZERO).unwrap();
}

/// Sends a password request for `user`, lets the application take
/// `decide_after` to reject it, and returns how long after the request
/// the USERAUTH_FAILURE went out (in steps of 0.1 ms).
fn failure_time(user: &str, decide_after: Duration) -> Duration {
    let (mut peer, mut victim) = userauth_server();
    let start = victim.now();
    peer.inject(&mut victim, &password_request(user, "guess"))
        .unwrap();
    victim.advance(decide_after).unwrap();
    reject(&mut victim);
    for _ in 0..100_000 {
        peer.pump(&mut victim).unwrap();
        if !peer.received_msgs(msg::USERAUTH_FAILURE).is_empty() {
            return victim.now() - start;
        }
        victim.advance(Duration::from_micros(100)).unwrap();
    }
    panic!("no USERAUTH_FAILURE within 10 s");
}

#[test]
fn a_failure_is_answered_after_openssh_s_delay_not_at_once() {
    let t = failure_time("alice", Duration::ZERO);
    // 5 ms plus up to 4.29 ms from the user name (auth2.c).
    assert!(
        t >= Duration::from_millis(5) && t <= Duration::from_micros(9400),
        "{t:?}"
    );
}

#[test]
fn the_none_method_is_answered_at_once_as_openssh_does() {
    // Clients open with `none` to learn the methods (ssh does, and conch):
    // sshd answers it without the delay (auth2.c), and so must we, or
    // every login waits 5-9 ms for nothing.
    let (mut peer, mut victim) = userauth_server();
    let mut none = vec![msg::USERAUTH_REQUEST];
    none.put_str("alice");
    none.put_str("ssh-connection");
    none.put_str("none");
    peer.inject(&mut victim, &none).unwrap();
    victim
        .call(|c| c.auth_decision(AuthDecision::Reject))
        .unwrap();
    // No time passes: the answer is out already.
    peer.pump(&mut victim).unwrap();
    assert_eq!(peer.received_msgs(msg::USERAUTH_FAILURE).len(), 1);
    // The password guess that follows still waits.
    peer.inject(&mut victim, &password_request("alice", "guess"))
        .unwrap();
    reject(&mut victim);
    peer.pump(&mut victim).unwrap();
    assert_eq!(peer.received_msgs(msg::USERAUTH_FAILURE).len(), 1);
    victim.advance(Duration::from_millis(10)).unwrap();
    peer.pump(&mut victim).unwrap();
    assert_eq!(peer.received_msgs(msg::USERAUTH_FAILURE).len(), 2);
}

#[test]
fn an_unknown_user_fails_after_the_same_time_as_a_wrong_password() {
    // An application that turns an unknown user away at once and one that
    // spends 3 ms checking a password: the client sees the same time.
    let unknown = failure_time("mallory", Duration::ZERO);
    let checked = failure_time("mallory", Duration::from_millis(3));
    assert_eq!(unknown, checked);
    // A check longer than the delay doubles it (never answered sooner
    // than the check took), as OpenSSH does.
    let slow = failure_time("mallory", Duration::from_millis(12));
    assert!(slow > Duration::from_millis(12));
    let step = Duration::from_micros(100);
    assert!(
        slow + step >= unknown * 2 && slow <= unknown * 2,
        "{slow:?} {unknown:?}"
    );
}

#[test]
fn requests_sent_while_a_failure_is_held_wait_behind_it() {
    let (mut peer, mut victim) = userauth_server();
    peer.inject(&mut victim, &password_request("alice", "one"))
        .unwrap();
    reject(&mut victim);
    // The client does not wait for the answer: the next guess queues.
    peer.inject(&mut victim, &password_request("alice", "two"))
        .unwrap();
    let asked = |v: &Victim| v.count(|e| matches!(e, Event::AuthRequest { .. }));
    assert_eq!(asked(&victim), 1);
    victim.advance(Duration::from_millis(10)).unwrap();
    peer.pump(&mut victim).unwrap();
    assert_eq!(peer.received_msgs(msg::USERAUTH_FAILURE).len(), 1);
    assert_eq!(asked(&victim), 2, "the queued guess after the delay");
    // Six failures (MaxAuthTries) still end the connection, delay or not.
    for i in 2..6 {
        reject(&mut victim);
        victim.advance(Duration::from_millis(10)).unwrap();
        let r = peer.inject(&mut victim, &password_request("alice", &format!("{i}")));
        if i < 5 {
            r.unwrap();
        }
    }
    victim
        .call(|c| c.auth_decision(AuthDecision::Reject))
        .unwrap();
    assert_eq!(
        victim.conn.error(),
        Some(&Error::PeerMisbehaved(PeerMisbehaved::TooManyAuthAttempts))
    );
}

// ----------------------------------------------------------------------
// Answers the application gives to requests the peer never reads
// ----------------------------------------------------------------------

/// Most bytes one answer (a REQUEST_FAILURE, CHANNEL_FAILURE or
/// CHANNEL_OPEN_FAILURE) or the final DISCONNECT takes once sealed.
const ANSWER_BOUND: usize = 128;

/// What the peer floods the server with, each answered by the application.
#[derive(Debug, Clone, Copy)]
enum Flood {
    /// Global requests with want-reply, answered with `global_reply`.
    GlobalRequests,
    /// Channel requests with want-reply, answered with `channel_reply`.
    ChannelRequests,
    /// Channel opens, refused with `reject_channel`.
    ChannelOpens,
}

/// A logged-in client floods a server with what `flood` says, 50 at a
/// time (fewer than the 64 requests that may await the application),
/// never reading anything, while the server's application answers
/// every request as it comes (as `conch-driver` does). Returns how many it
/// sent before the server cut it off (or 200,000), the server's verdict on
/// the last batch, and the largest transmit buffer seen.
fn flood_unread(flood: Flood) -> (usize, Result<(), Error>, usize) {
    let (mut peer, mut victim) = Peer::logged_in_server(ServerConfig::new(vec![ed25519(7)]));
    // The server's application decides on opens itself (below).
    victim.policy.accept_channels = matches!(flood, Flood::ChannelRequests);
    if let Flood::ChannelRequests = flood {
        peer.inject(&mut victim, &open("session", 0)).unwrap();
    }
    let mut request = match flood {
        Flood::GlobalRequests => vec![msg::GLOBAL_REQUEST],
        Flood::ChannelRequests => {
            let mut p = vec![msg::CHANNEL_REQUEST];
            p.put_u32(0);
            p
        }
        Flood::ChannelOpens => open("session", 1),
    };
    if !matches!(flood, Flood::ChannelOpens) {
        request.put_str("x-flood@example.com");
        request.put_bool(true);
    }
    let mut seen = victim.log.len();
    let mut sent = 0;
    let mut result = Ok(());
    while result.is_ok() && sent < 200_000 {
        for _ in 0..50 {
            peer.send(&request);
        }
        sent += 50;
        // Fed; the victim's output is never taken (a peer whose TCP window
        // is closed), while the application answers every request.
        result = victim.feed(&peer.take_outgoing());
        while result.is_ok() && seen < victim.log.len() {
            let event = victim.log[seen].clone();
            seen += 1;
            let _refused = match event {
                Event::GlobalRequest {
                    want_reply: true, ..
                } => victim.call(|c| c.global_reply(false, &[])),
                Event::Channel {
                    id,
                    event:
                        ChannelEvent::Request {
                            want_reply: true, ..
                        },
                } => victim.call(|c| c.channel_reply(id, false)),
                Event::Channel {
                    id,
                    event: ChannelEvent::OpenRequest { .. },
                } => victim.call(|c| {
                    c.reject_channel(id, ChannelOpenFailure::AdministrativelyProhibited, "no")
                }),
                _ => Ok(()),
            };
            result = victim.conn.error().map_or(Ok(()), |e| Err(e.clone()));
        }
    }
    let queued = victim.conn.poll_transmit().map_or(0, <[u8]>::len);
    (sent, result, victim.max_transmit.max(queued))
}

#[test]
fn answers_the_application_gives_to_a_peer_that_never_reads_are_bounded() {
    // The fuzz finding `server_connection-transmit-over-3mib`: a client
    // that keeps sending requests the application answers, and never
    // reads, made the server's transmit buffer grow without bound (past 3
    // MiB in the fuzzer, 32 MiB here): only the answers the core gives
    // itself counted against the limit on unread answers, not the
    // application's. Each flood is now cut off at that limit (1 MiB, part
    // of the memory budget), and what waits to be sent stays within it
    // plus the last answer and the DISCONNECT.
    for flood in [
        Flood::GlobalRequests,
        Flood::ChannelRequests,
        Flood::ChannelOpens,
    ] {
        let (sent, result, queued) = flood_unread(flood);
        let want = Error::PeerMisbehaved(PeerMisbehaved::UnreadAnswers);
        assert_eq!(result, Err(want.clone()), "{flood:?} after {sent} requests");
        assert!(sent < 100_000, "{flood:?}: cut off only after {sent}");
        assert!(
            queued <= (1 << 20) + 2 * ANSWER_BOUND,
            "{flood:?}: {queued} bytes queued"
        );
    }
}
