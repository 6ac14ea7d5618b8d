//! conch-smol as the runtime of conch-openssh's command endpoint: the
//! endpoint's logic is written once there; here is smol's `connect`.

use conch_openssh::endpoint::{BoxFuture, EndpointRuntime};

use crate::{connect, Channel, ClientOptions, Session};

/// conch-smol as an [`EndpointRuntime`]: [`crate::CommandEndpoint`]'s calls
/// return futures to await, and give the driver's [`Session`] and
/// [`Channel`] (conch-smol's own).
#[derive(Debug, Clone, Copy)]
pub struct Smol;

impl EndpointRuntime for Smol {
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

    fn driver_session(session: &Session) -> &Session {
        session
    }

    fn channel(channel: Channel) -> Channel {
        channel
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
