//! conch-tokio as the runtime of conch-openssh's command endpoint: the
//! endpoint's logic is written once there; here are tokio's `connect`,
//! session and channel.

use conch_openssh::endpoint::{BoxFuture, EndpointRuntime};

use crate::client::{connect, Session};
use crate::stream::Channel;
use crate::ClientOptions;

/// conch-tokio as an [`EndpointRuntime`]: [`crate::CommandEndpoint`]'s
/// calls return futures to await, and give conch-tokio's [`Session`] and
/// [`Channel`].
#[derive(Debug, Clone, Copy)]
pub struct Tokio;

impl EndpointRuntime for Tokio {
    type Session = Session;
    type Channel = Channel;
    type Wait<'a, T: Send + 'a> = BoxFuture<'a, T>;

    fn connect(
        host: String,
        port: u16,
        options: ClientOptions,
    ) -> BoxFuture<'static, conch_driver::Result<Session>> {
        Box::pin(async move { connect(&host, port, options).await })
    }

    fn driver_session(session: &Session) -> &conch_driver::Session {
        session.driver()
    }

    fn channel(channel: conch_driver::Channel) -> Channel {
        Channel::new(channel)
    }

    fn driver_channel(channel: &Channel) -> &conch_driver::Channel {
        channel
    }

    fn wait<'a, T: Send + 'a>(work: BoxFuture<'a, T>) -> BoxFuture<'a, T> {
        work
    }

    fn into_future<'a, T: Send + 'a>(waited: BoxFuture<'a, T>) -> BoxFuture<'a, T> {
        waited
    }
}
