//! Faults under conch-tokio (issue 6): a peer killed in the middle of a
//! transfer, a peer that stops answering, the connect, handshake and auth
//! timeouts, and futures dropped at every await point. The scenarios, the
//! peers (a proxy that can cut or freeze a connection, scripted servers)
//! and the checks are `conch_driver::testing`'s, shared with the other
//! adapters; here they run on a tokio runtime through conch-tokio's API.
//!
//! The tests of this file run one at a time (`conch_driver::testing::serial`):
//! some count the process's file descriptors. Each runs on a fresh
//! current-thread runtime, where the pumps run only while the test waits,
//! so every await point is seen and the scenarios count them.

mod common;

conch_driver::fault_tests!(common::Tokio);
