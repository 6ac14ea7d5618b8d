//! One process holding many concurrent sessions against an SSH server
//! (issue 5: "1,000 concurrent sessions in one process in under 2 s, under
//! 64 KiB each"). Run by `benches/side-by-side.sh`; by hand:
//!
//! ```text
//! ulimit -n 65536
//! concurrent_sessions --port PORT --user USER --identity KEY --host-key HOST_KEY.pub \
//!     [--sessions 1000] [--max-connecting N] [--server-pid PID] [--timeout SECS]
//!     [--host 127.0.0.1]
//! concurrent_sessions --algorithms --port PORT --user USER --identity KEY --host-key HOST_KEY.pub
//! ```
//!
//! Every session is a separate TCP connection made with `conch-tokio` and
//! the default client configuration: key exchange, host key check,
//! public-key login, then `exec` of [`ECHO_COMMAND`], a line-echoing loop
//! of shell builtins (a `cat` that needs no second program: starting
//! processes, with their dynamic loading, is what the server's machine
//! spends most on here, and it is not Conch's cost). Once **all** of them
//! have it running (a barrier, so they are truly open at the same time),
//! each writes one line, reads it back, sends EOF, checks that the command
//! exits 0 and closes its connection. All sessions connect at once unless
//! `--max-connecting N` limits how many may be between their TCP connect and
//! their running `cat` at a time (they are still all open together at the
//! barrier).
//!
//! It prints `name=value` lines: the total wall time (first connect to last
//! close), the time until all sessions were open, per-phase latencies, the
//! process's peak RSS over its baseline (and that divided by the number of
//! sessions), CPU time, and with `--server-pid` the server's RSS and CPU.
//! Baseline: the RSS once the runtime is up and the key loaded, before the
//! first connection; the peak (`VmHWM`) is reset there through
//! `/proc/self/clear_refs` so that it covers the sessions only.
//!
//! `--algorithms` makes one connection and prints what the default
//! configuration negotiated (`kex=`, `cipher=`, `mac=`): the same defaults
//! the `conch` command uses.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conch_tokio::{
    connect, load_private_key, load_public_key, AuthMethods, ClientOptions, ExitStatus,
    HostKeyPolicy, PrivateKey, Session,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Semaphore};

const USAGE: &str = "\
usage: concurrent_sessions --port PORT --user USER --identity KEY --host-key FILE.pub
                           [--host ADDR] [--sessions N] [--max-connecting N]
                           [--server-pid PID] [--timeout SECS]
       concurrent_sessions --algorithms --port PORT --user USER --identity KEY --host-key FILE.pub";

/// The command line.
#[derive(Debug)]
struct Args {
    host: String,
    port: u16,
    user: String,
    identity: PathBuf,
    host_key: PathBuf,
    sessions: usize,
    /// At most this many sessions opening at a time (0: no limit).
    max_connecting: usize,
    server_pid: Option<u32>,
    timeout: Duration,
    algorithms_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = None;
    let mut user = None;
    let mut identity = None;
    let mut host_key = None;
    let mut sessions = 1000;
    let mut max_connecting = 0;
    let mut server_pid = None;
    let mut timeout = Duration::from_secs(120);
    let mut algorithms_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--host" => host = value()?,
            "--port" => port = Some(value()?.parse().map_err(|e| format!("--port: {e}"))?),
            "--user" => user = Some(value()?),
            "--identity" => identity = Some(PathBuf::from(value()?)),
            "--host-key" => host_key = Some(PathBuf::from(value()?)),
            "--sessions" => sessions = value()?.parse().map_err(|e| format!("--sessions: {e}"))?,
            "--max-connecting" => {
                max_connecting = value()?
                    .parse()
                    .map_err(|e| format!("--max-connecting: {e}"))?
            }
            "--server-pid" => {
                server_pid = Some(value()?.parse().map_err(|e| format!("--server-pid: {e}"))?)
            }
            "--timeout" => {
                timeout =
                    Duration::from_secs(value()?.parse().map_err(|e| format!("--timeout: {e}"))?)
            }
            "--algorithms" => algorithms_only = true,
            "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    let missing = |what: &str| format!("{what} is required\n{USAGE}");
    Ok(Args {
        host,
        port: port.ok_or_else(|| missing("--port"))?,
        user: user.ok_or_else(|| missing("--user"))?,
        identity: identity.ok_or_else(|| missing("--identity"))?,
        host_key: host_key.ok_or_else(|| missing("--host-key"))?,
        sessions,
        max_connecting,
        server_pid,
        timeout,
        algorithms_only,
    })
}

/// What every session task needs.
#[derive(Debug)]
struct Target {
    host: String,
    port: u16,
    user: String,
    key: PrivateKey,
    options: ClientOptions,
}

/// The remote command: echoes each line until EOF, then exits 0.
const ECHO_COMMAND: &str = "while read -r line; do echo \"$line\"; done";

/// A session with `cat` running on it, and how long each step took.
struct Opened {
    index: usize,
    session: Session,
    channel: conch_tokio::Channel,
    connect: Duration,
    auth: Duration,
    exec: Duration,
    /// From the start of the run until this session was open.
    ready_at: Duration,
}

/// How long a session's steps after the barrier took.
struct Finished {
    echo: Duration,
    close: Duration,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("concurrent_sessions: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let target = Arc::new(load_target(&args)?);
        if args.algorithms_only {
            print_algorithms(&target).await
        } else {
            run(&args, target).await
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("concurrent_sessions: {message}");
            println!("error={}", message.replace('\n', " | "));
            ExitCode::FAILURE
        }
    }
}

fn load_target(args: &Args) -> Result<Target, String> {
    let key = load_private_key(&args.identity, &mut |_| None).map_err(|e| e.to_string())?;
    let host_key = load_public_key(&args.host_key).map_err(|e| e.to_string())?;
    let mut options = ClientOptions::new(HostKeyPolicy::trust_keys([host_key]));
    // A thousand handshakes at once on a small machine can take a while;
    // the run's own --timeout bounds the whole.
    options.config_mut().transport.handshake_timeout = Some(args.timeout);
    options.connect_timeout = Some(args.timeout);
    Ok(Target {
        host: args.host.clone(),
        port: args.port,
        user: args.user.clone(),
        key,
        options,
    })
}

async fn print_algorithms(target: &Target) -> Result<(), String> {
    let session = connect(&target.host, target.port, target.options.clone())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let algorithms = session.algorithms().ok_or("no key exchange happened")?;
    session.close().await;
    println!("kex={}", algorithms.kex);
    println!("host_key={}", algorithms.host_key);
    println!("cipher={}", algorithms.cipher_s2c);
    let mac = if algorithms.mac_s2c.is_empty() {
        "(aead)"
    } else {
        &algorithms.mac_s2c
    };
    println!("mac={mac}");
    Ok(())
}

async fn run(args: &Args, target: Arc<Target>) -> Result<(), String> {
    let n = args.sessions;
    check_open_files_limit(n);
    let baseline_rss = proc_status_kib("self", "VmRSS").ok_or("cannot read /proc/self/status")?;
    // Reset VmHWM to the current RSS (Linux >= 4.0), so the peak below is
    // the sessions' peak, not start-up's.
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let server_before = args.server_pid.map(|pid| {
        (
            proc_status_kib(&pid.to_string(), "VmRSS"),
            proc_cpu_seconds(&pid.to_string()),
        )
    });
    let cpu_before = proc_cpu_seconds("self");

    let start = Instant::now();
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel::<Result<Duration, String>>();
    let (go_tx, go_rx) = watch::channel(false);
    let connecting = Arc::new(Semaphore::new(if args.max_connecting == 0 {
        n.max(1)
    } else {
        args.max_connecting
    }));
    let mut tasks = Vec::with_capacity(n);
    for index in 0..n {
        let target = target.clone();
        let connecting = connecting.clone();
        let opened_tx = opened_tx.clone();
        let mut go_rx = go_rx.clone();
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await;
            let opened = open_session(index, &target, start).await;
            drop(permit);
            let opened = match opened {
                Ok(o) => {
                    let _ = opened_tx.send(Ok(o.ready_at));
                    o
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            // The barrier: wait until every session is open.
            if go_rx.wait_for(|go| *go).await.is_err() {
                return Err(format!("session {index}: run abandoned"));
            }
            let finished = echo_and_close(&opened).await?;
            Ok((opened, finished))
        }));
    }
    drop(opened_tx);

    // Wait for all sessions to be open (or for the first failures).
    let mut failures: Vec<String> = Vec::new();
    let mut open = 0usize;
    let deadline = tokio::time::Instant::now() + args.timeout;
    while open + failures.len() < n {
        match tokio::time::timeout_at(deadline, opened_rx.recv()).await {
            Ok(Some(Ok(_))) => open += 1,
            Ok(Some(Err(e))) => failures.push(e),
            Ok(None) => break,
            Err(_) => {
                failures.push(format!(
                    "timed out after {:?} with {open} of {n} sessions open",
                    args.timeout
                ));
                break;
            }
        }
    }
    let all_open = start.elapsed();
    let rss_all_open = proc_status_kib("self", "VmRSS");
    let server_all_open = args
        .server_pid
        .and_then(|pid| proc_status_kib(&pid.to_string(), "VmRSS"));
    if !failures.is_empty() {
        for task in &tasks {
            task.abort();
        }
        return Err(summarise_failures(
            &format!(
                "{} of {n} sessions failed to open ({open} opened)",
                n - open
            ),
            &failures,
        ));
    }
    let _ = go_tx.send(true);

    let mut phases: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for task in tasks {
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok((opened, finished)))) => {
                phases.entry("connect").or_default().push(opened.connect);
                phases.entry("auth").or_default().push(opened.auth);
                phases.entry("exec").or_default().push(opened.exec);
                phases.entry("open_at").or_default().push(opened.ready_at);
                phases.entry("echo").or_default().push(finished.echo);
                phases.entry("close").or_default().push(finished.close);
            }
            Ok(Ok(Err(e))) => failures.push(e),
            Ok(Err(join)) => failures.push(format!("task failed: {join}")),
            Err(_) => {
                failures.push(format!("timed out after {:?}", args.timeout));
                break;
            }
        }
    }
    let total = start.elapsed();
    if !failures.is_empty() {
        return Err(summarise_failures(
            &format!(
                "{} of {n} sessions failed after all were open",
                failures.len()
            ),
            &failures,
        ));
    }

    let cpu = proc_cpu_seconds("self").zip(cpu_before).map(|(a, b)| a - b);
    let peak_rss = proc_status_kib("self", "VmHWM").ok_or("cannot read VmHWM")?;
    let growth = peak_rss.saturating_sub(baseline_rss);
    println!("sessions={n}");
    println!("max_connecting={}", args.max_connecting);
    println!("total_wall_s={:.3}", total.as_secs_f64());
    println!("all_open_s={:.3}", all_open.as_secs_f64());
    println!("after_barrier_s={:.3}", (total - all_open).as_secs_f64());
    println!("baseline_rss_kib={baseline_rss}");
    println!("peak_rss_kib={peak_rss}");
    println!("peak_rss_reset={hwm_reset}");
    println!(
        "peak_per_session_kib={:.1}",
        growth as f64 / n.max(1) as f64
    );
    if let Some(rss) = rss_all_open {
        println!(
            "all_open_rss_per_session_kib={:.1}",
            rss.saturating_sub(baseline_rss) as f64 / n.max(1) as f64
        );
    }
    if let Some(cpu) = cpu {
        println!("client_cpu_s={cpu:.2}");
    }
    for (phase, mut times) in phases {
        times.sort();
        println!(
            "{phase}_ms=median {:.1} p90 {:.1} max {:.1}",
            millis(percentile(&times, 50)),
            millis(percentile(&times, 90)),
            millis(percentile(&times, 100)),
        );
    }
    if let (Some(pid), Some((rss_before, cpu_before))) = (args.server_pid, server_before) {
        let pid = pid.to_string();
        if let (Some(before), Some(at_open)) = (rss_before, server_all_open) {
            println!("server_rss_before_kib={before}");
            println!("server_rss_all_open_kib={at_open}");
            println!(
                "server_rss_per_session_kib={:.1}",
                at_open.saturating_sub(before) as f64 / n.max(1) as f64
            );
        }
        if let Some(hwm) = proc_status_kib(&pid, "VmHWM") {
            println!("server_peak_rss_kib={hwm}");
        }
        if let (Some(after), Some(before)) = (proc_cpu_seconds(&pid), cpu_before) {
            println!("server_cpu_s={:.2}", after - before);
        }
    }
    Ok(())
}

async fn open_session(index: usize, target: &Target, start: Instant) -> Result<Opened, String> {
    let fail = |step: &str, e: conch_tokio::Error| format!("session {index}: {step}: {e}");
    let t0 = Instant::now();
    let session = connect(&target.host, target.port, target.options.clone())
        .await
        .map_err(|e| fail("connect", e))?;
    let t1 = Instant::now();
    session
        .authenticate(&target.user, AuthMethods::new().key(target.key.clone()))
        .await
        .map_err(|e| fail("authenticate", e))?;
    let t2 = Instant::now();
    let channel = session
        .exec(ECHO_COMMAND)
        .await
        .map_err(|e| fail("exec", e))?;
    let t3 = Instant::now();
    Ok(Opened {
        index,
        session,
        channel,
        connect: t1 - t0,
        auth: t2 - t1,
        exec: t3 - t2,
        ready_at: t3 - start,
    })
}

/// Writes a line to `cat`, reads it back, sends EOF, checks the exit status
/// and closes the connection.
async fn echo_and_close(opened: &Opened) -> Result<Finished, String> {
    let index = opened.index;
    let fail = |step: &str, e: &dyn std::fmt::Display| format!("session {index}: {step}: {e}");
    let t0 = Instant::now();
    let line = format!("session {index}\n");
    let mut channel = &opened.channel;
    channel
        .write_all(line.as_bytes())
        .await
        .map_err(|e| fail("write", &e))?;
    let mut echoed = vec![0u8; line.len()];
    channel
        .read_exact(&mut echoed)
        .await
        .map_err(|e| fail("read", &e))?;
    if echoed != line.as_bytes() {
        return Err(fail(
            "read",
            &format!(
                "expected {line:?}, got {:?}",
                String::from_utf8_lossy(&echoed)
            ),
        ));
    }
    let t1 = Instant::now();
    channel.shutdown().await.map_err(|e| fail("eof", &e))?;
    let mut rest = Vec::new();
    channel
        .read_to_end(&mut rest)
        .await
        .map_err(|e| fail("read after eof", &e))?;
    if !rest.is_empty() {
        return Err(fail(
            "read after eof",
            &format!("{} stray bytes", rest.len()),
        ));
    }
    match opened.channel.exit_status().await {
        Ok(ExitStatus::Code(0)) => {}
        Ok(other) => return Err(fail("exit status", &format!("{other:?}"))),
        Err(e) => return Err(fail("exit status", &e)),
    }
    opened.session.close().await;
    Ok(Finished {
        echo: t1 - t0,
        close: t1.elapsed(),
    })
}

/// "N failed: ..." with the distinct errors (session numbers left out) and
/// how often each happened.
fn summarise_failures(headline: &str, failures: &[String]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for failure in failures {
        let without_index = match failure.split_once(": ") {
            Some((prefix, rest)) if prefix.starts_with("session ") => rest.to_string(),
            _ => failure.clone(),
        };
        *counts.entry(without_index).or_default() += 1;
    }
    let mut text = headline.to_string();
    for (error, count) in counts {
        text.push_str(&format!("\n  {count} x {error}"));
    }
    text
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = (sorted.len() - 1) * percent / 100;
    sorted.get(index).copied().unwrap_or_default()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`).
fn proc_status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// User + system CPU time of a process, from `/proc/<pid>/stat` (in clock
/// ticks of 1/100 s, Linux's `USER_HZ` on every common platform).
fn proc_cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it follow ')'.
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, i.e. 12 and 13
    // after the name (counting the state as 1).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Warns when the open-files limit is too low for the sessions' sockets.
fn check_open_files_limit(sessions: usize) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|s| s.parse::<usize>().ok());
    if let Some(soft) = soft {
        if soft < sessions + 64 {
            eprintln!(
                "concurrent_sessions: warning: the open-files limit is {soft}, \
                 too low for {sessions} sessions: run under `ulimit -n 65536`"
            );
        }
    }
}
