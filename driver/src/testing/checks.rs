//! What a fault or a refusal must look like once it happened: the checks
//! the async scenarios ([`super::faults`], [`super::sessions`]) and the
//! blocking adapter's tests make on what their calls returned, written once.

use std::io;
use std::time::{Duration, Instant};

use conch_core::ChannelOpenFailure;

use super::{
    io_is_connection_lost, io_is_keepalive_timeout, is_connection_lost, keepalive_earliest,
    StreamEnd, FAULT_NOTICE, OUTPUT_THEN_WAIT_LEN, SHORT_TIMEOUT,
};
use crate::{Error, ExitStatus, Result, Session};

/// Echo bytes read back before echo traffic counts as flowing.
pub const ECHO_FLOWING: usize = 256 * 1024;

/// How a read to the end of a stream went: the bytes read, and how it
/// ended.
pub type ReadEnd = (usize, io::Result<()>);

/// After the peer died under echo traffic in full flow: the pending read
/// (after what had been echoed), write and exit status each failed with
/// the lost connection.
#[track_caller]
pub fn assert_echo_lost(read: ReadEnd, write_error: io::Error, status: Result<ExitStatus>) {
    let (echoed, read_end) = read;
    assert!(echoed > ECHO_FLOWING, "{echoed}");
    let read_error = read_end.expect_err("a cut connection must not read as a clean end");
    assert!(io_is_connection_lost(&read_error), "{read_error:?}");
    assert!(io_is_connection_lost(&write_error), "{write_error:?}");
    assert!(
        matches!(&status, Err(e) if is_connection_lost(e)),
        "{status:?}"
    );
}

/// After the peer died: the output that had arrived was all delivered,
/// then the error (a truncated download never looks complete).
#[track_caller]
pub fn assert_held_output_lost((received, end): ReadEnd) {
    assert_eq!(received, OUTPUT_THEN_WAIT_LEN);
    let end = end.expect_err("the held output must end with the error");
    assert!(io_is_connection_lost(&end), "{end:?}");
}

/// After the peer died: the session is over with the lost connection, and
/// `later`, a call made after, failed with it too.
#[track_caller]
pub fn assert_session_lost(session: &Session, later: Error) {
    assert!(session.is_closed());
    let reason = session.disconnect_reason().unwrap();
    assert!(is_connection_lost(&reason), "{reason:?}");
    assert!(is_connection_lost(&later), "{later:?}");
}

/// A server's [`super::ENDLESS_STREAM`] to a client that is gone: it
/// filled the window (2 MiB), then failed with the lost connection.
#[track_caller]
pub fn assert_stream_lost((written, error): StreamEnd) {
    assert!(written >= 2 * 1024 * 1024, "{written}");
    assert!(io_is_connection_lost(&error), "{error:?}");
}

/// A read pending when the server went silent, given up on by the
/// client's keepalives `noticed_after` the silence began: it failed with
/// the keepalive timeout, and not before the keepalives were due.
#[track_caller]
pub fn assert_keepalives_gave_up(end: io::Result<()>, noticed_after: Duration) {
    let error = end.expect_err("a silent server must fail the read");
    assert!(io_is_keepalive_timeout(&error), "{error:?}");
    assert!(
        noticed_after >= keepalive_earliest(),
        "gave up after {noticed_after:?}, before the keepalives were due"
    );
}

/// What started at `started` took [`SHORT_TIMEOUT`], not less and not
/// much more: a timeout that fired when it was due.
#[track_caller]
pub fn assert_took_the_short_timeout(started: Instant) {
    let took = started.elapsed();
    assert!(took >= SHORT_TIMEOUT, "{took:?}");
    assert!(took < SHORT_TIMEOUT + FAULT_NOTICE, "{took:?}");
}

/// A connect started at `started` failed as a connect that timed out, when
/// the short connect timeout was due.
#[track_caller]
pub fn assert_connect_timed_out(error: &Error, started: Instant) {
    assert!(
        matches!(error, Error::Connect { source, .. }
            if source.kind() == io::ErrorKind::TimedOut),
        "{error:?}"
    );
    assert_took_the_short_timeout(started);
}

/// A connect started at `started` failed with the handshake timeout, when
/// it was due.
#[track_caller]
pub fn assert_handshake_timed_out(error: &Error, started: Instant) {
    // The handshake timer, or the connect timeout (as long here) that
    // bounds the banner and key exchanges: whichever fires first.
    assert!(
        matches!(
            error,
            Error::Timeout("handshake" | "banner exchange" | "key exchange")
        ),
        "{error:?}"
    );
    assert_took_the_short_timeout(started);
}

/// An authentication started at `started` failed with the auth timeout
/// when it was due, and the session is over and says why.
#[track_caller]
pub fn assert_auth_timed_out(error: &Error, started: Instant, session: &Session) {
    assert!(
        matches!(error, Error::Timeout("authentication")),
        "{error:?}"
    );
    assert_took_the_short_timeout(started);
    assert!(session.is_closed());
    assert!(matches!(
        session.disconnect_reason(),
        Some(Error::Timeout("authentication"))
    ));
}

/// The server gave up on a client that never authenticated, for its login
/// grace time, and the client heard that the server disconnected.
#[track_caller]
pub fn assert_login_grace_ended(server_reason: &Error, client_reason: &Error) {
    assert!(
        matches!(
            server_reason,
            Error::Disconnected(conch_core::Error::Timeout(
                conch_core::TimeoutKind::LoginGrace
            ))
        ),
        "{server_reason:?}"
    );
    assert!(
        matches!(
            client_reason,
            Error::Disconnected(conch_core::Error::PeerDisconnected { .. })
        ),
        "{client_reason:?}"
    );
}

/// Opening a `direct-tcpip` channel was refused as an unknown channel type
/// (`open`), and an `xon-xoff` request as a refused request (`request`).
#[track_caller]
pub fn assert_refusals(open: &Error, request: &Error) {
    assert!(
        matches!(
            open,
            Error::ChannelOpenRefused {
                reason: ChannelOpenFailure::UnknownChannelType,
                ..
            }
        ),
        "{open:?}"
    );
    assert!(
        matches!(request, Error::RequestRefused { request } if request == "xon-xoff"),
        "{request:?}"
    );
}

/// A command killed by signal `name`: reported as that signal, with a
/// shell's code for it (128 + its number).
#[track_caller]
pub fn assert_killed_by(status: &ExitStatus, name: &str, shell_code: u32) {
    assert!(
        matches!(status, ExitStatus::Signal { name: got, .. } if got == name),
        "{status:?}"
    );
    assert_eq!(status.shell_code(), shell_code);
}
