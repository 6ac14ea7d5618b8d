//! `conch -v`/`-vv` and `conchd`'s log: the library's `tracing` events
//! printed to stderr in the lines an OpenSSH user knows: `debug1: kex:
//! algorithm: curve25519-sha256` for `ssh -v`, `debug2:` for `-vv`, and
//! sshd-like lines (`conchd: 127.0.0.1:5000: Accepted password for alice`)
//! for the server.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Who prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Program {
    /// `conch`: `debugN:` prefixes; ssh's "Authenticated to" line.
    Client,
    /// `conchd`: `conchd: PEER: ` prefixes.
    Daemon,
}

/// The level `conch -v` (once per `v`) shows: debug1 is `debug`, debug2
/// and debug3 are `trace`; without `-v`, warnings only (ssh prints nothing
/// more by default).
pub fn client_level(verbose: u8) -> Level {
    match verbose {
        0 => Level::WARN,
        1 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

/// Sends `conch`'s logs to stderr (once per process; later calls do
/// nothing).
pub fn init_client(verbose: u8) {
    init(Program::Client, Some(client_level(verbose)));
}

/// Sends `conchd`'s logs to stderr at `level` (`None`: nothing).
pub fn init_daemon(level: Option<Level>) {
    init(Program::Daemon, level);
}

fn init(program: Program, level: Option<Level>) {
    let Some(level) = level else {
        return;
    };
    // Another subscriber already set (a test, or a second call) wins.
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .event_format(OpensshFormat(program))
        .try_init();
}

/// Parses `conchd --log-level`: sshd's `LogLevel` names or tracing's.
pub fn parse_level(text: &str) -> Result<Option<Level>, String> {
    Ok(Some(match text.to_ascii_lowercase().as_str() {
        "quiet" | "off" => return Ok(None),
        "fatal" | "error" => Level::ERROR,
        "warn" => Level::WARN,
        "info" | "verbose" => Level::INFO,
        "debug" | "debug1" => Level::DEBUG,
        "debug2" | "debug3" | "trace" => Level::TRACE,
        _ => {
            return Err(format!(
                "bad --log-level {text:?}: want quiet, error, info, debug1, debug2, ..."
            ))
        }
    }))
}

/// Formats one event as an OpenSSH log line.
struct OpensshFormat(Program);

/// The event's `message` field.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

/// The `peer` field of the innermost span that has one, from the fields
/// the fmt layer keeps formatted (`role="server" peer=127.0.0.1:5000`).
fn peer<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let scope = ctx.event_scope()?;
    for span in scope {
        let extensions = span.extensions();
        let Some(fields) = extensions.get::<FormattedFields<N>>() else {
            continue;
        };
        if let Some(at) = fields.fields.find("peer=") {
            let rest = &fields.fields[at + "peer=".len()..];
            let value = rest.split(' ').next().unwrap_or_default();
            return Some(value.trim_matches('"').to_string());
        }
    }
    None
}

impl<S, N> FormatEvent<S, N> for OpensshFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut message = Message::default();
        event.record(&mut message);
        let message = message.0;
        let peer = peer(ctx);
        match self.0 {
            Program::Client => {
                let level = match *event.metadata().level() {
                    Level::TRACE => "debug2: ",
                    Level::DEBUG => "debug1: ",
                    _ => "",
                };
                // ssh(1): `Authenticated to HOST using "METHOD".`
                let message = match (message.strip_prefix("Authenticated using "), &peer) {
                    (Some(rest), Some(peer)) => format!("Authenticated to {peer} using {rest}"),
                    _ => message,
                };
                writeln!(writer, "{level}{message}")
            }
            Program::Daemon => {
                let level = match *event.metadata().level() {
                    Level::TRACE => "debug2: ",
                    Level::DEBUG => "debug1: ",
                    _ => "",
                };
                match peer {
                    Some(peer) => writeln!(writer, "conchd: {level}{peer}: {message}"),
                    None => writeln!(writer, "conchd: {level}{message}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_ssh_and_sshd() {
        assert_eq!(client_level(0), Level::WARN);
        assert_eq!(client_level(1), Level::DEBUG);
        assert_eq!(client_level(3), Level::TRACE);
        assert_eq!(parse_level("QUIET").unwrap(), None);
        assert_eq!(parse_level("debug2").unwrap(), Some(Level::TRACE));
        assert_eq!(parse_level("verbose").unwrap(), Some(Level::INFO));
        assert!(parse_level("loud").is_err());
    }
}
