//! Faults under conch-smol (issue 6): a peer killed in the middle of a
//! transfer, a peer that stops answering, the connect, handshake and auth
//! timeouts, and futures dropped at every await point. The scenarios, the
//! peers (a proxy that can cut or freeze a connection, scripted servers)
//! and the checks are `conch_driver::testing`'s, shared with the other
//! adapters; here they run on smol through conch-smol's API.
//!
//! The tests of this file run one at a time ([`serial`]): some count the
//! process's file descriptors.

mod common;

use std::future::Future;

use common::Smol;
use conch_driver::testing::faults::{self, handshake_times_out};
use conch_driver::testing::{serial, ScriptedPeer};

/// Runs a test body on this thread (spawned tasks go to smol's global
/// executor), one test at a time.
fn run(body: impl Future<Output = ()>) {
    let _serial = serial();
    smol::block_on(body);
}

// A peer killed in the middle of a transfer.

#[test]
fn server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data() {
    run(
        faults::server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data::<Smol>(
        ),
    );
}

#[test]
fn client_gone_mid_transfer_ends_the_server_side() {
    run(faults::client_gone_mid_transfer_ends_the_server_side::<Smol>());
}

// A peer that stops answering.

#[test]
fn keepalive_notices_a_server_that_stops_answering() {
    run(faults::keepalive_notices_a_server_that_stops_answering::<
        Smol,
    >());
}

#[test]
fn without_keepalive_a_silent_server_goes_unnoticed_until_the_socket_dies() {
    run(faults::without_keepalive_a_silent_server_goes_unnoticed_until_the_socket_dies::<Smol>());
}

#[test]
fn server_keepalive_notices_a_client_that_stops_answering() {
    run(faults::server_keepalive_notices_a_client_that_stops_answering::<Smol>());
}

// Connect, handshake and auth timeouts.

#[test]
fn connect_timeout_fires_when_the_listener_never_accepts() {
    run(faults::connect_timeout_fires_when_the_listener_never_accepts::<Smol>());
}

#[test]
fn handshake_timeout_fires_when_the_server_never_speaks() {
    run(handshake_times_out::<Smol>(ScriptedPeer::silent));
}

#[test]
fn handshake_timeout_fires_when_the_server_stops_after_kexinit() {
    run(handshake_times_out::<Smol>(
        ScriptedPeer::stops_after_kexinit,
    ));
}

#[test]
fn server_dying_during_the_handshake_fails_connect_at_once() {
    run(faults::server_dying_during_the_handshake_fails_connect_at_once::<Smol>());
}

#[test]
fn server_dying_during_authentication_fails_it_at_once() {
    run(faults::server_dying_during_authentication_fails_it_at_once::<Smol>());
}

#[test]
fn auth_timeout_fires_when_the_server_stops_answering() {
    run(faults::auth_timeout_fires_when_the_server_stops_answering::<Smol>());
}

#[test]
fn auth_timeout_is_disarmed_once_the_server_answers() {
    run(faults::auth_timeout_is_disarmed_once_the_server_answers::<
        Smol,
    >());
}

#[test]
fn server_login_grace_time_ends_a_client_that_never_authenticates() {
    run(faults::server_login_grace_time_ends_a_client_that_never_authenticates::<Smol>());
}

// Futures dropped at every await point (the pumps run on smol's threads
// meanwhile: how many await points a call is seen at is not checked).

#[test]
fn dropping_connect_at_every_await_point_leaves_nothing_behind() {
    run(faults::dropping_connect_at_every_await_point_leaves_nothing_behind::<Smol>());
}

#[test]
fn dropping_authenticate_at_every_await_point_then_logging_in_works() {
    run(faults::dropping_authenticate_at_every_await_point_then_logging_in_works::<Smol>());
}

#[test]
fn dropping_channel_calls_at_every_await_point_keeps_the_session_usable() {
    run(faults::dropping_channel_calls_at_every_await_point_keeps_the_session_usable::<Smol>());
}

#[test]
fn dropped_reads_writes_and_exit_status_lose_nothing() {
    run(faults::dropped_reads_writes_and_exit_status_lose_nothing::<
        Smol,
    >());
}
