//! What conch-blocking's test files share: a bound on a whole test (a
//! blocking call cannot be cancelled), the test server on its own listener,
//! logging in, and reading to the end of a stream. The checks of what the
//! calls returned are `conch_driver::testing::checks`, shared with the
//! async adapters.

#![allow(dead_code)]

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use conch_blocking::{
    connect, AuthMethods, Channel, ClientOptions, Listener, ServerOptions, Session,
};
use conch_driver::testing::{Served, TestServer, PASSWORD, USER};

/// Bound on a whole test: blocking calls cannot be cancelled, so the body
/// runs on its own thread and the test fails if it has not finished.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Runs a test body on its own thread, bounded by [`TEST_LIMIT`].
pub fn bounded(body: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        body();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(TEST_LIMIT) {
        Ok(()) => handle.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!(),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish in {TEST_LIMIT:?}"),
    }
}

/// The test server on a free loopback port, on conch-blocking's listener;
/// what it accepts is in `Served` (which runs commands).
pub fn start_server(options: ServerOptions) -> (SocketAddr, Served) {
    let listener = Listener::bind("127.0.0.1:0", options).expect("bind");
    let addr = listener.local_addr().unwrap();
    let served = Served::default();
    let accepted = served.clone();
    thread::spawn(move || {
        while let Ok((session, _)) = listener.accept() {
            accepted.session(session.driver().clone());
            let accepted = accepted.clone();
            // conch-blocking's own accept_channel, not the driver's. No
            // runtime here: each command gets a thread (Served::channel).
            thread::spawn(move || {
                while let Some(incoming) = session.accept_channel() {
                    accepted.channel(incoming.map(Channel::into_inner));
                }
            });
        }
    });
    (addr, served)
}

/// Connects to `port` on loopback and logs in as the test user.
pub fn login(port: u16, options: ClientOptions) -> Session {
    let session = connect("127.0.0.1", port, options).expect("connect");
    session
        .authenticate(USER, AuthMethods::new().password(PASSWORD))
        .expect("authenticate");
    session
}

/// A test server on a free port and a session logged in to it.
pub fn logged_in() -> Session {
    let test = TestServer::new();
    let (addr, _served) = start_server(test.options.clone());
    login(addr.port(), test.client_options())
}

/// Reads `r` to its end.
pub fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("read");
    out
}

/// Reads until the stream ends, counting in `progress`; the bytes and how
/// it ended.
pub fn read_counting(mut reader: impl Read, progress: &AtomicUsize) -> (usize, io::Result<()>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (progress.load(Ordering::Relaxed), Ok(())),
            Ok(n) => {
                progress.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => return (progress.load(Ordering::Relaxed), Err(e)),
        }
    }
}

/// Reads until the stream ends; the bytes and how it ended.
pub fn read_until_end(reader: impl Read) -> (usize, io::Result<()>) {
    read_counting(reader, &AtomicUsize::new(0))
}
