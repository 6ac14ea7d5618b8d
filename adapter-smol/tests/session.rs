//! conch-smol against an in-process server built with its own listener,
//! running commands with `sh -c`: the scenarios every async adapter runs
//! (`conch_driver::testing::sessions`), here on smol through conch-smol's
//! API.

mod common;

conch_driver::session_tests!(common::Smol);
