//! conch-blocking's `CommandEndpoint` against an in-process server: the
//! endpoint scenarios every adapter runs (`conch_openssh::testing`), here
//! with calls that block until done.

mod common;

use common::{bounded, start_server};
use conch_blocking::Blocking;
use conch_driver::block_on::block_on;
use conch_driver::testing::TestServer;
use conch_openssh::testing;

#[test]
fn new_and_existing_connections_run_commands() {
    bounded(|| {
        let (addr, _served) = start_server(TestServer::new().options);
        block_on(testing::new_and_existing_connections_run_commands::<Blocking>(addr.port()));
    });
}

#[test]
fn each_phase_fails_with_its_own_error() {
    bounded(|| {
        let (addr, _served) = start_server(TestServer::new().options);
        block_on(testing::each_phase_fails_with_its_own_error::<Blocking>(
            addr.port(),
        ));
    });
}
