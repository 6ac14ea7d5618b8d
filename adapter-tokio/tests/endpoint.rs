//! conch-tokio's `CommandEndpoint` against an in-process server: the
//! endpoint scenarios every adapter runs (`conch_openssh::testing`), here
//! on tokio.

mod common;

use common::Tokio as TestRuntime;
use conch_driver::testing::{Adapter, TestServer};
use conch_openssh::testing;
use conch_tokio::Tokio;

#[tokio::test]
async fn new_and_existing_connections_run_commands() {
    let (addr, _served) = TestRuntime::start_server(TestServer::new().options).await;
    testing::new_and_existing_connections_run_commands::<Tokio>(addr.port()).await;
}

#[tokio::test]
async fn each_phase_fails_with_its_own_error() {
    let (addr, _served) = TestRuntime::start_server(TestServer::new().options).await;
    testing::each_phase_fails_with_its_own_error::<Tokio>(addr.port()).await;
}
