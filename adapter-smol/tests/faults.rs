//! Faults under conch-smol (issue 6): a peer killed in the middle of a
//! transfer, a peer that stops answering, the connect, handshake and auth
//! timeouts, and futures dropped at every await point. The scenarios, the
//! peers (a proxy that can cut or freeze a connection, scripted servers)
//! and the checks are `conch_driver::testing`'s, shared with the other
//! adapters; here they run on smol through conch-smol's API.
//!
//! The tests of this file run one at a time (`conch_driver::testing::serial`):
//! some count the process's file descriptors. The pumps run on smol's
//! threads meanwhile, so how many await points a call is seen at is not
//! checked.

mod common;

conch_driver::fault_tests!(common::Smol);
