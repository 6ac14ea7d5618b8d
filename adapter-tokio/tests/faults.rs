//! Faults under conch-tokio (issue 6): a peer killed in the middle of a
//! transfer, a peer that stops answering, the connect, handshake and auth
//! timeouts, and futures dropped at every await point. The scenarios, the
//! peers (a proxy that can cut or freeze a connection, scripted servers)
//! and the checks are `conch_driver::testing`'s, shared with the other
//! adapters; here they run on a tokio runtime through conch-tokio's API.
//!
//! The tests of this file run one at a time ([`serial`]): some count the
//! process's file descriptors.

mod common;

use std::future::Future;

use common::Tokio;
use conch_driver::testing::faults::{self, handshake_times_out};
use conch_driver::testing::{serial, ScriptedPeer};

/// Runs a test body on a fresh current-thread runtime, one test at a time.
fn run(body: impl Future<Output = ()>) {
    let _serial = serial();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(body);
}

// A peer killed in the middle of a transfer.

#[test]
fn server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data() {
    run(
        faults::server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data::<Tokio>(
        ),
    );
}

#[test]
fn client_gone_mid_transfer_ends_the_server_side() {
    run(faults::client_gone_mid_transfer_ends_the_server_side::<Tokio>());
}

// A peer that stops answering.

#[test]
fn keepalive_notices_a_server_that_stops_answering() {
    run(faults::keepalive_notices_a_server_that_stops_answering::<
        Tokio,
    >());
}

#[test]
fn without_keepalive_a_silent_server_goes_unnoticed_until_the_socket_dies() {
    run(faults::without_keepalive_a_silent_server_goes_unnoticed_until_the_socket_dies::<Tokio>());
}

#[test]
fn server_keepalive_notices_a_client_that_stops_answering() {
    run(faults::server_keepalive_notices_a_client_that_stops_answering::<Tokio>());
}

// Connect, handshake and auth timeouts.

#[test]
fn connect_timeout_fires_when_the_listener_never_accepts() {
    run(faults::connect_timeout_fires_when_the_listener_never_accepts::<Tokio>());
}

#[test]
fn handshake_timeout_fires_when_the_server_never_speaks() {
    run(handshake_times_out::<Tokio>(ScriptedPeer::silent));
}

#[test]
fn handshake_timeout_fires_when_the_server_stops_after_kexinit() {
    run(handshake_times_out::<Tokio>(
        ScriptedPeer::stops_after_kexinit,
    ));
}

#[test]
fn server_dying_during_the_handshake_fails_connect_at_once() {
    run(faults::server_dying_during_the_handshake_fails_connect_at_once::<Tokio>());
}

#[test]
fn server_dying_during_authentication_fails_it_at_once() {
    run(faults::server_dying_during_authentication_fails_it_at_once::<Tokio>());
}

#[test]
fn auth_timeout_fires_when_the_server_stops_answering() {
    run(faults::auth_timeout_fires_when_the_server_stops_answering::<Tokio>());
}

#[test]
fn auth_timeout_is_disarmed_once_the_server_answers() {
    run(faults::auth_timeout_is_disarmed_once_the_server_answers::<
        Tokio,
    >());
}

#[test]
fn server_login_grace_time_ends_a_client_that_never_authenticates() {
    run(faults::server_login_grace_time_ends_a_client_that_never_authenticates::<Tokio>());
}

// Futures dropped at every await point (on a current-thread runtime the
// pumps run only while the test waits, so every await point is seen and
// the scenarios count them).

#[test]
fn dropping_connect_at_every_await_point_leaves_nothing_behind() {
    run(faults::dropping_connect_at_every_await_point_leaves_nothing_behind::<Tokio>());
}

#[test]
fn dropping_authenticate_at_every_await_point_then_logging_in_works() {
    run(faults::dropping_authenticate_at_every_await_point_then_logging_in_works::<Tokio>());
}

#[test]
fn dropping_channel_calls_at_every_await_point_keeps_the_session_usable() {
    run(faults::dropping_channel_calls_at_every_await_point_keeps_the_session_usable::<Tokio>());
}

#[test]
fn dropped_reads_writes_and_exit_status_lose_nothing() {
    run(faults::dropped_reads_writes_and_exit_status_lose_nothing::<
        Tokio,
    >());
}
