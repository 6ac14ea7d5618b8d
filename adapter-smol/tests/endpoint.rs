//! conch-smol's `CommandEndpoint` against an in-process server: the
//! endpoint scenarios every adapter runs (`conch_openssh::testing`), here
//! on smol.

mod common;

use common::Smol as TestRuntime;
use conch_driver::testing::{Adapter, TestServer};
use conch_openssh::testing;
use conch_smol::Smol;

#[test]
fn new_and_existing_connections_run_commands() {
    smol::block_on(async {
        let (addr, _served) = TestRuntime::start_server(TestServer::new().options).await;
        testing::new_and_existing_connections_run_commands::<Smol>(addr.port()).await;
    });
}

#[test]
fn each_phase_fails_with_its_own_error() {
    smol::block_on(async {
        let (addr, _served) = TestRuntime::start_server(TestServer::new().options).await;
        testing::each_phase_fails_with_its_own_error::<Smol>(addr.port()).await;
    });
}
