//! `conch --replay FILE`: replays a transcript recorded with
//! `conch --record FILE` (or `CONCH_RECORD`, or any recording connection)
//! and prints its calls and the events they produced, for debugging.
//!
//! Each line is a record's index, the call (with its time for input calls)
//! and its outcome; events are printed as the replay produces them, so they
//! are the recorded ones (the replay checks each against its digest).
//! `poll_event` calls that returned nothing are left out. A divergence
//! stops the printout with the record where it happened, and `conch` exits
//! with status 1; a file that is not a transcript gives 255.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use conch_core::record::{Call, RecordedConfig, ReplaySummary, Replayer, Transcript};

/// Longest event printout, in characters (data events can be large).
const MAX_EVENT_TEXT: usize = 300;

/// Why a printout stopped early.
#[derive(Debug)]
pub enum ReplayFailure {
    /// The file is not a readable transcript.
    Unreadable(String),
    /// The replay diverged (the message says where).
    Diverged(String),
    /// Writing the printout failed (e.g. a closed pipe).
    Output(std::io::Error),
}

/// Prints the transcript in `bytes` to `out`; the summary if it replayed.
pub fn print_transcript(
    bytes: &[u8],
    out: &mut impl Write,
) -> Result<ReplaySummary, ReplayFailure> {
    let io = ReplayFailure::Output;
    let transcript =
        Transcript::decode(bytes).map_err(|e| ReplayFailure::Unreadable(e.to_string()))?;
    let header = &transcript.header;
    let transport = header.config.transport();
    let role = match &header.config {
        RecordedConfig::Client(_) => "client".to_string(),
        RecordedConfig::Server(c) => format!(
            "server ({} host key{}: {})",
            c.host_keys.len(),
            if c.host_keys.len() == 1 { "" } else { "s" },
            c.host_keys
                .iter()
                .map(|k| k.public_key().fingerprint())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    writeln!(out, "role: {role}").map_err(io)?;
    writeln!(out, "software version: {}", transport.software_version).map_err(io)?;
    writeln!(out, "kex: {}", transport.algorithms.kex.join(",")).map_err(io)?;
    writeln!(out, "records: {}", transcript.records.len()).map_err(io)?;
    if transcript.truncated {
        writeln!(
            out,
            "(the recording ends inside a record, which is left out)"
        )
        .map_err(io)?;
    }

    let mut replayer = Replayer::new(transcript, Instant::now());
    while let Some(step) = replayer.step() {
        let step = step.map_err(|d| ReplayFailure::Diverged(d.to_string()))?;
        let record = &replayer.transcript().records[step.index];
        if record.is_empty_poll() {
            continue;
        }
        match (&record.call, &step.event) {
            (Call::PollEvent, Some(event)) => {
                let mut text = format!("{event:?}");
                if text.chars().count() > MAX_EVENT_TEXT {
                    text = text.chars().take(MAX_EVENT_TEXT).collect::<String>() + "...";
                }
                writeln!(out, "{:>6}   event {text}", step.index).map_err(io)?;
            }
            (Call::ConsumeTransmit { n }, _) => {
                writeln!(out, "{:>6} sent {n} bytes", step.index).map_err(io)?;
            }
            (call, _) => {
                writeln!(out, "{:>6} {call} -> {}", step.index, step.outcome).map_err(io)?;
            }
        }
    }
    let summary = replayer.summary().clone();
    writeln!(
        out,
        "replayed {} records: {} events, {} bytes received, {} bytes sent; no divergence",
        summary.records, summary.events, summary.input_bytes, summary.transmitted_bytes
    )
    .map_err(io)?;
    Ok(summary)
}

/// `conch --replay FILE`; returns the exit status.
pub fn main(path: &Path) -> i32 {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("conch: {}: {e}", path.display());
            return crate::client::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match print_transcript(&bytes, &mut out) {
        Ok(_) => 0,
        Err(ReplayFailure::Unreadable(e)) => {
            eprintln!("conch: {}: {e}", path.display());
            crate::client::FAILURE
        }
        // `conch --replay FILE | head`: the reader has seen enough.
        Err(ReplayFailure::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(ReplayFailure::Output(e)) => {
            eprintln!("conch: writing the printout: {e}");
            crate::client::FAILURE
        }
        Err(ReplayFailure::Diverged(e)) => {
            let _ = out.flush();
            eprintln!("conch: {}: {e}", path.display());
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use conch_core::{ClientConfig, Connection};

    use super::*;

    /// A client that sends its identification and gets an unsupported one.
    fn transcript() -> Vec<u8> {
        let now = Instant::now();
        let mut conn = Connection::client_recorded(Arc::new(ClientConfig::default()), [1; 32], now);
        let n = conn.poll_transmit().unwrap().len();
        conn.consume_transmit(n);
        conn.handle_input(now + Duration::from_millis(2), b"SSH-1.5-old\r\n");
        while conn.poll_event().is_some() {}
        conn.take_transcript()
    }

    #[test]
    fn prints_calls_and_events() {
        let mut out = Vec::new();
        print_transcript(&transcript(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("role: client\n"), "{text}");
        assert!(text.contains("     0 sent "), "{text}");
        assert!(
            text.contains(
                "     1 +0.002000s handle_input(13 bytes b\"SSH-1.5-old\\r\\n\") -> Err("
            ),
            "{text}"
        );
        assert!(text.contains("     2   event Disconnected"), "{text}");
        assert!(text.contains("no divergence"), "{text}");
    }

    #[test]
    fn a_divergence_and_a_foreign_file_are_failures() {
        let bytes = transcript();
        let mut t = Transcript::decode(&bytes).unwrap();
        // A version line cut short: the call no longer fails.
        let Call::HandleInput { data, .. } = &mut t.records[1].call else {
            panic!("{:?}", t.records[1]);
        };
        data.to_mut().truncate(5);
        let bytes = t.encode().unwrap();
        match print_transcript(&bytes, &mut Vec::new()) {
            Err(ReplayFailure::Diverged(e)) => assert!(e.contains("record 1"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            print_transcript(b"not a transcript", &mut Vec::new()),
            Err(ReplayFailure::Unreadable(_))
        ));
    }
}
