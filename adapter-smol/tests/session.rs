//! conch-smol against an in-process server built with its own listener,
//! running commands with `sh -c`: the scenarios every async adapter runs
//! (`conch_driver::testing::sessions`), here on smol through conch-smol's
//! API.

mod common;

use common::Smol;
use conch_driver::testing::sessions;

#[test]
fn exec_gives_output_and_exit_status() {
    smol::block_on(sessions::exec_gives_output_and_exit_status::<Smol>());
}

#[test]
fn stdin_is_echoed_through_cat() {
    smol::block_on(sessions::stdin_is_echoed_through_cat::<Smol>());
}

#[test]
fn stderr_is_kept_apart() {
    smol::block_on(sessions::stderr_is_kept_apart::<Smol>());
}

#[test]
fn fifty_commands_share_one_connection() {
    smol::block_on(sessions::fifty_commands_share_one_connection::<Smol>());
}

#[test]
fn half_close_lets_the_remote_see_eof_and_output_still_flows() {
    smol::block_on(sessions::half_close_lets_the_remote_see_eof_and_output_still_flows::<Smol>());
}

#[test]
fn a_stalled_reader_does_not_stall_other_channels() {
    smol::block_on(sessions::a_stalled_reader_does_not_stall_other_channels::<
        Smol,
    >());
}

#[test]
fn auth_methods_refusals_and_host_key() {
    smol::block_on(async {
        sessions::each_auth_method_and_failure::<Smol>().await;
        sessions::refusals_are_distinct_errors::<Smol>().await;
        sessions::an_untrusted_host_key_is_rejected_before_any_credential::<Smol>().await;
    });
}

#[test]
fn read_chunk_and_read_take_turns_on_one_stream_in_order() {
    smol::block_on(sessions::read_chunk_and_read_take_turns_on_one_stream_in_order::<Smol>());
}

#[test]
fn read_chunk_alone_reopens_the_window_on_stdout_and_stderr() {
    smol::block_on(sessions::read_chunk_alone_reopens_the_window_on_stdout_and_stderr::<Smol>());
}
