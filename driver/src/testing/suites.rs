//! The `#[test]` functions of the shared scenarios, listed once: an async
//! adapter's test file runs every scenario of [`super::sessions`] with
//! [`session_tests!`](crate::session_tests) and of [`super::faults`] with
//! [`fault_tests!`](crate::fault_tests), each on a runtime of its own
//! ([`super::Adapter::block_on`]), so a scenario added here runs on every
//! adapter.

/// `#[test]` functions running each of [`sessions`](crate::testing::sessions)'
/// scenarios on the adapter `$adapter` (an [`Adapter`](crate::testing::Adapter)).
#[macro_export]
macro_rules! session_tests {
    ($adapter:ty) => {
        $crate::scenario_tests!(
            $adapter,
            |body| <$adapter as $crate::testing::Adapter>::block_on(body),
            sessions,
            [
                exec_gives_output_and_exit_status,
                stdin_is_echoed_through_cat,
                stderr_is_kept_apart,
                fifty_commands_share_one_connection,
                half_close_lets_the_remote_see_eof_and_output_still_flows,
                a_stalled_reader_does_not_stall_other_channels,
                each_auth_method_and_failure,
                refusals_are_distinct_errors,
                an_untrusted_host_key_is_rejected_before_any_credential,
                the_verifier_sees_the_address_connected_to,
                read_chunk_and_read_take_turns_on_one_stream_in_order,
                read_chunk_alone_reopens_the_window_on_stdout_and_stderr,
            ]
        );
    };
}

/// `#[test]` functions running each of [`faults`](crate::testing::faults)'
/// scenarios on the adapter `$adapter`, one at a time
/// ([`serial`](crate::testing::serial): some count the process's file
/// descriptors).
#[macro_export]
macro_rules! fault_tests {
    ($adapter:ty) => {
        $crate::scenario_tests!(
            $adapter,
            |body| {
                let _serial = $crate::testing::serial();
                <$adapter as $crate::testing::Adapter>::block_on(body)
            },
            faults,
            [
                // A peer killed in the middle of a transfer.
                server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data,
                client_gone_mid_transfer_ends_the_server_side,
                // A peer that stops answering.
                keepalive_notices_a_server_that_stops_answering,
                without_keepalive_a_silent_server_goes_unnoticed_until_the_socket_dies,
                server_keepalive_notices_a_client_that_stops_answering,
                // Connect, handshake and auth timeouts.
                connect_timeout_fires_when_the_listener_never_accepts,
                handshake_timeout_fires_when_the_server_never_speaks,
                handshake_timeout_fires_when_the_server_stops_after_kexinit,
                server_dying_during_the_handshake_fails_connect_at_once,
                server_dying_during_authentication_fails_it_at_once,
                auth_timeout_fires_when_the_server_stops_answering,
                auth_timeout_is_disarmed_once_the_server_answers,
                server_login_grace_time_ends_a_client_that_never_authenticates,
                // Futures dropped at every await point (where the pumps run
                // only while the test waits, every await point is seen and
                // counted: `Adapter::PUMPS_ON_TEST_THREAD`).
                dropping_connect_at_every_await_point_leaves_nothing_behind,
                dropping_authenticate_at_every_await_point_then_logging_in_works,
                dropping_channel_calls_at_every_await_point_keeps_the_session_usable,
                dropped_reads_writes_and_exit_status_lose_nothing,
            ]
        );
    };
}

/// One `#[test]` function per scenario
/// `conch_driver::testing::$module::$name::<$adapter>`, run by
/// `$run`: what [`session_tests!`](crate::session_tests) and
/// [`fault_tests!`](crate::fault_tests) expand to.
#[doc(hidden)]
#[macro_export]
macro_rules! scenario_tests {
    ($adapter:ty, $run:expr, $module:ident, [$($name:ident),* $(,)?]) => {
        $(
            #[test]
            fn $name() {
                #[allow(clippy::redundant_closure_call)]
                ($run)($crate::testing::$module::$name::<$adapter>());
            }
        )*
    };
}
