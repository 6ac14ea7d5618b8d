//! conch-blocking as the runtime of conch-openssh's command endpoint: the
//! endpoint's logic is written once there; here its calls block the
//! calling thread until they are done.

use conch_driver::block_on::block_on;
use conch_openssh::endpoint::{BoxFuture, EndpointRuntime};

use crate::channel::Channel;
use crate::session::{connect, Session};
use crate::ClientOptions;

/// conch-blocking as an [`EndpointRuntime`]: [`crate::CommandEndpoint`]'s
/// calls block until they are done and give conch-blocking's [`Session`]
/// and [`Channel`].
#[derive(Debug, Clone, Copy)]
pub struct Blocking;

impl EndpointRuntime for Blocking {
    type Session = Session;
    type Channel = Channel;
    type Wait<'a, T: Send + 'a> = T;

    fn connect(
        host: String,
        port: u16,
        options: ClientOptions,
    ) -> BoxFuture<'static, conch_driver::Result<Session>> {
        // Run by `wait`'s `block_on` on the caller's thread, which may block.
        Box::pin(async move { connect(&host, port, options) })
    }

    fn driver_session(session: &Session) -> &conch_driver::Session {
        session.driver()
    }

    fn channel(channel: conch_driver::Channel) -> Channel {
        Channel::new(channel)
    }

    fn driver_channel(channel: &Channel) -> &conch_driver::Channel {
        channel.driver()
    }

    fn wait<'a, T: Send + 'a>(work: BoxFuture<'a, T>) -> T {
        block_on(work)
    }

    fn into_future<'a, T: Send + 'a>(waited: T) -> BoxFuture<'a, T> {
        Box::pin(async move { waited })
    }
}
