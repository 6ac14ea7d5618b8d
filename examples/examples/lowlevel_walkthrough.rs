//! The Twisted Conch client how-to's low-level walk-through, done by hand with the sans-IO core:
//! a `conch_core::Connection` over a `std::net::TcpStream`, no adapter.
//!
//! The how-to subclasses four Twisted classes; here each of their callbacks
//! is an [`Event`] answered in [`Walk::on_event`]:
//!
//! - transport (`SSHClientTransport.verifyHostKey`): [`Event::HostKey`] is
//!   checked against an expected fingerprint (`--fingerprint SHA256:...`)
//!   or, without one, against the known_hosts file (`-k`, strictly: an
//!   unknown host is refused);
//! - user auth (`SSHUserAuthClient`): [`Event::UserauthReady`] starts public
//!   key authentication with `-i KEY` (signing only when the server asks
//!   with [`Event::AuthSignatureNeeded`]) or the password;
//! - connection (`SSHConnection.serviceStarted`): [`Event::AuthSuccess`]
//!   opens a session channel;
//! - channel (`SSHChannel`), each event an [`Event::Channel`]:
//!   [`ChannelEvent::Opened`] sends `exec cat` with want-reply; its
//!   [`ChannelEvent::RequestReply`] sends a line and EOF;
//!   [`ChannelEvent::Data`] collects what `cat` sends back;
//!   [`ChannelEvent::Closed`] prints it and ends the connection.
//!
//! [`Walk::run`] is the loop every adapter follows (see `ARCHITECTURE.md`):
//! feed socket bytes to `handle_input` (EOF to `handle_eof`, deadlines to
//! `handle_timeout`), and after every input or mutator drain `poll_event`
//! and `poll_transmit` until both are empty.
//!
//! ```text
//! cargo run -p conch-examples --example lowlevel_walkthrough -- \
//!     -h localhost -p 22 -u "$USER" -i ~/.ssh/id_ed25519 --fingerprint SHA256:...
//! ```

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conch_core::known_hosts::Verdict;
use conch_core::{
    ChannelEvent, ChannelId, ClientConfig, ClientConnection, Connection, Event, PrivateKey,
    PublicKey,
};
use conch_examples::{current_user, read_key};
use conch_tokio::KnownHostsFile;

/// What the channel sends to `cat` (the how-to's line).
const LINE: &[u8] = b"This data will be echoed back to us by \"cat.\"\r\n";

/// Longest wait for the server at any step: the example must not hang.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// How the host key is verified.
enum HostKeyCheck {
    /// The how-to's way: one hard-coded fingerprint.
    Fingerprint(String),
    /// The host must be in this known_hosts file with this key.
    KnownHosts(KnownHostsFile),
}

struct Options {
    host: String,
    port: u16,
    user: String,
    key: Option<PrivateKey>,
    password: Option<String>,
    check: HostKeyCheck,
}

/// The state of the walk through the four layers.
struct Walk {
    conn: ClientConnection,
    options: Options,
    password_tried: bool,
    /// Bytes of [`LINE`] the channel's window has not taken yet.
    unsent: &'static [u8],
    cat_data: Vec<u8>,
    finished: bool,
}

impl Walk {
    /// Runs the connection until it ends. Returns whether everything worked.
    fn run(mut self, mut socket: TcpStream) -> io::Result<bool> {
        let mut buf = vec![0u8; 32 * 1024];
        let mut last_input = Instant::now();
        loop {
            // Step 2 of the loop contract: drain until nothing is left.
            self.drain(&mut socket)?;
            if self.conn.is_closed() && self.conn.poll_transmit().is_none() {
                return Ok(self.finished);
            }
            // Step 1: wait for bytes, but no later than the core's deadline.
            let now = Instant::now();
            let wait = self
                .conn
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now))
                .unwrap_or(IDLE_LIMIT)
                .clamp(Duration::from_millis(1), IDLE_LIMIT);
            socket.set_read_timeout(Some(wait))?;
            match socket.read(&mut buf) {
                Ok(0) => self.conn.handle_eof(Instant::now()),
                Ok(n) => {
                    last_input = Instant::now();
                    // A fatal error shows up as Event::Disconnected.
                    self.conn.handle_input(Instant::now(), &buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if last_input.elapsed() >= IDLE_LIMIT {
                        eprintln!("the server said nothing for {IDLE_LIMIT:?}; giving up");
                        self.conn.disconnect("timed out");
                    } else {
                        self.conn.handle_timeout(Instant::now());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Answers every event, then writes every byte the core has for the
    /// socket; repeats until a whole round produced nothing.
    fn drain(&mut self, socket: &mut TcpStream) -> io::Result<()> {
        loop {
            let mut progressed = false;
            while let Some(event) = self.conn.poll_event() {
                progressed = true;
                self.on_event(event);
            }
            while let Some(bytes) = self.conn.poll_transmit() {
                progressed = true;
                let n = bytes.len();
                socket.write_all(bytes)?;
                self.conn.consume_transmit(n);
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        // A mutator's error is also reported as Event::Disconnected when it
        // is fatal; API misuse would be a bug in this example.
        let result = match event {
            // ---- transport: verifyHostKey ----
            Event::HostKey { key } => {
                if self.host_key_ok(&key) {
                    println!("host key {} verified", key.fingerprint());
                    self.conn.accept_host_key()
                } else {
                    println!("host key {} NOT trusted", key.fingerprint());
                    self.conn.reject_host_key()
                }
            }
            // ---- transport: connectionSecure -> user auth ----
            Event::UserauthReady => {
                println!("transport secure; authenticating as {}", self.options.user);
                let user = self.options.user.clone();
                match &self.options.key {
                    Some(key) => {
                        let public = key.public_key().clone();
                        self.conn.auth_publickey(&user, &public)
                    }
                    None => self.try_password(&[]),
                }
            }
            Event::AuthSignatureNeeded {
                algorithm, data, ..
            } => match &self.options.key {
                Some(key) => match key.sign(&algorithm, &data) {
                    Ok(signature) => self.conn.auth_signature(&signature),
                    Err(e) => {
                        println!("cannot sign: {e}");
                        self.conn.disconnect("cannot sign");
                        Ok(())
                    }
                },
                None => Ok(()),
            },
            Event::AuthFailure { methods, .. } => self.try_password(&methods),
            Event::AuthBanner { message } => {
                println!("banner: {message}");
                Ok(())
            }
            // ---- connection: serviceStarted -> open the channel ----
            Event::AuthSuccess => {
                println!("authenticated; opening a session channel");
                self.conn.open_session().map(|_| ())
            }
            // ---- channel ----
            Event::Channel { id, event } => self.on_channel(id, event),
            Event::GlobalRequest {
                want_reply: true, ..
            } => self.conn.global_reply(false, &[]),
            Event::Disconnected { error } => {
                if !self.finished {
                    println!("connection ended: {error}");
                }
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            println!("error: {e}");
        }
    }

    /// Sends what is left of the line (the window may take part of it),
    /// then EOF.
    /// Events of one channel: ours, or one the server asks to open.
    fn on_channel(
        &mut self,
        channel: ChannelId,
        event: ChannelEvent,
    ) -> Result<(), conch_core::ApiMisuse> {
        match event {
            ChannelEvent::Opened => {
                println!("channel {} open; exec cat", channel.0);
                self.conn.exec(channel, b"cat")
            }
            ChannelEvent::OpenFailed { description, .. } => {
                println!("channel refused: {description}");
                self.conn.disconnect("channel refused");
                Ok(())
            }
            ChannelEvent::RequestReply { success } => {
                if success {
                    println!("cat started; sending a line, then EOF");
                    self.unsent = LINE;
                    self.send_rest(channel)
                } else {
                    println!("exec refused");
                    self.conn.close_channel(channel)
                }
            }
            ChannelEvent::Writable => self.send_rest(channel),
            ChannelEvent::Data { data } => {
                self.cat_data.extend_from_slice(&data);
                // Reopen the window: the data has been taken care of.
                self.conn.consume(channel, data.len())
            }
            ChannelEvent::ExtendedData { data, .. } => self.conn.consume(channel, data.len()),
            // cat has sent everything: close our side now. (Closing right
            // after our EOF, as the seed does, could race cat's output.)
            ChannelEvent::Eof => self.conn.close_channel(channel),
            ChannelEvent::ExitStatus { code } => {
                println!("cat exited with status {code}");
                Ok(())
            }
            ChannelEvent::Closed => {
                let text = String::from_utf8_lossy(&self.cat_data);
                println!("We got this from \"cat\": {}", text.trim_end());
                self.finished = self.cat_data == LINE;
                self.conn.disconnect("done");
                Ok(())
            }
            // Nothing is forwarded to us: refuse what the server might ask.
            ChannelEvent::OpenRequest { .. } => self.conn.reject_channel(
                channel,
                conch_core::ChannelOpenFailure::AdministrativelyProhibited,
                "not accepted",
            ),
            ChannelEvent::Request {
                want_reply: true, ..
            } => self.conn.channel_reply(channel, false),
            _ => Ok(()),
        }
    }

    /// Sends what is left of the line (the window may take part of it),
    /// then EOF.
    fn send_rest(&mut self, channel: ChannelId) -> Result<(), conch_core::ApiMisuse> {
        if self.unsent.is_empty() {
            return Ok(());
        }
        let n = self.conn.send_data(channel, self.unsent)?;
        self.unsent = &self.unsent[n..];
        if self.unsent.is_empty() {
            self.conn.send_eof(channel)?;
        }
        Ok(())
    }

    /// The password, once, if the server still takes it; otherwise give up.
    fn try_password(&mut self, methods: &[String]) -> Result<(), conch_core::ApiMisuse> {
        let offered = methods.is_empty() || methods.iter().any(|m| m == "password");
        match &self.options.password {
            Some(password) if offered && !self.password_tried => {
                self.password_tried = true;
                let (user, password) = (self.options.user.clone(), password.clone());
                self.conn.auth_password(&user, &password)
            }
            _ => {
                println!(
                    "authentication failed (server allows: {})",
                    methods.join(",")
                );
                self.conn.disconnect("authentication failed");
                Ok(())
            }
        }
    }

    fn host_key_ok(&self, key: &PublicKey) -> bool {
        match &self.options.check {
            HostKeyCheck::Fingerprint(expected) => key.fingerprint() == *expected,
            HostKeyCheck::KnownHosts(file) => matches!(
                file.check(&self.options.host, self.options.port, None, key),
                Ok(Verdict::Known { .. })
            ),
        }
    }
}

fn parse_options() -> Result<Options, String> {
    use lexopt::prelude::*;
    let mut host = "localhost".to_string();
    let mut port = 22u16;
    let mut user = current_user();
    let mut key = None;
    let mut password = None;
    let mut known_hosts = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".ssh/known_hosts"))
        .unwrap_or_default();
    let mut fingerprint = None;
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("host") => host = text(&mut parser)?,
            Short('p') | Long("port") => {
                port = text(&mut parser)?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?
            }
            Short('u') | Long("username") => user = text(&mut parser)?,
            Short('i') | Long("identity") => {
                let path = std::path::PathBuf::from(text(&mut parser)?);
                key = Some(read_key(&path).map_err(|e| e.to_string())?);
            }
            Long("password") => password = Some(text(&mut parser)?),
            Short('k') | Long("knownhosts") => known_hosts = text(&mut parser)?.into(),
            Long("fingerprint") => fingerprint = Some(text(&mut parser)?),
            Long("no-agent") => {} // this walk-through never uses an agent
            Long("help") => {
                return Err("options: -h HOST -p PORT -u USER [-i KEY] [--password PW] \
                            [-k KNOWN_HOSTS | --fingerprint SHA256:...]"
                    .into())
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    let check = match fingerprint {
        Some(f) => HostKeyCheck::Fingerprint(f),
        None => HostKeyCheck::KnownHosts(KnownHostsFile::new(known_hosts)),
    };
    Ok(Options {
        host,
        port,
        user,
        key,
        password,
        check,
    })
}

fn text(parser: &mut lexopt::Parser) -> Result<String, String> {
    parser
        .value()
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|v| format!("invalid value {v:?}"))
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let socket = match TcpStream::connect((options.host.as_str(), options.port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("connect to {}:{}: {e}", options.host, options.port);
            return ExitCode::FAILURE;
        }
    };
    let _ = socket.set_nodelay(true);
    println!("connected to {}:{}", options.host, options.port);
    // The core draws randomness only from the RNG handed in here.
    let rng: conch_core::Rng = Box::new(rand_core::UnwrapErr(getrandom::SysRng));
    let conn = Connection::client(Arc::new(ClientConfig::default()), rng, Instant::now());
    let walk = Walk {
        conn,
        options,
        password_tried: false,
        unsent: &[],
        cat_data: Vec::new(),
        finished: false,
    };
    match walk.run(socket) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("socket error: {e}");
            ExitCode::FAILURE
        }
    }
}
