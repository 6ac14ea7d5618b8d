//! `conch` with forwarding: connects (through `-J` hops, as any connection),
//! sets up `-L`/`-D` listeners and `-R` forwards with ssh's messages, then
//! runs `-W`, waits (`-N`) or runs the command, on a terminal by the same
//! rules as without forwards (`super::run_command`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use conch_openssh::ssh_config::{Endpoint, Forward as ConfigForward};
use conch_tokio::{
    CommandEndpoint, EndpointError, Error, Forward, ForwardListener, Listen, OnFailure,
    RemoteTarget, Session, Target,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::forward_args::{describe, ForwardSetup};
use super::{open_failure_text, report, ClientArgs, Debug, FAILURE};

/// Prints ssh's message for a forwarded connection that could not be
/// opened ("channel N: open failed: connect failed: Connection refused").
fn open_failure_reporter() -> OnFailure {
    let counter = Arc::new(AtomicU32::new(2));
    Arc::new(move |e: &Error| {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        match e {
            Error::ChannelOpenRefused {
                reason,
                description,
            } => eprintln!(
                "channel {n}: open failed: {}: {description}",
                open_failure_text(*reason)
            ),
            other => eprintln!("channel {n}: {other}"),
        }
    })
}

/// The local addresses a listener binds, as ssh's `channel_fwd_bind_addr`
/// decides them for a client: with no bind address, loopback, or every
/// address with `GatewayPorts yes`; `*` or empty, every address;
/// `localhost`, loopback; any other, that address.
fn local_listen(e: &Endpoint, gateway_ports: bool) -> Result<Listen, String> {
    match e {
        Endpoint::Path(p) => Ok(Listen::Unix(PathBuf::from(p))),
        Endpoint::Tcp { host, port } => {
            let host = match host.as_deref() {
                None if gateway_ports => "0.0.0.0",
                None | Some("localhost") => "127.0.0.1",
                Some("*") | Some("") => "0.0.0.0",
                Some(h) => h,
            };
            let addrs: Vec<SocketAddr> = (host, *port)
                .to_socket_addrs()
                .map_err(|e| format!("bind {host}: {e}"))?
                .collect();
            Ok(Listen::Tcp(addrs))
        }
    }
}

fn target(e: &Endpoint) -> Target {
    match e {
        Endpoint::Path(p) => Target::Unix(PathBuf::from(p)),
        Endpoint::Tcp { host, port } => Target::Tcp {
            host: host.clone().unwrap_or_else(|| "localhost".into()),
            port: *port,
        },
    }
}

/// Starts the `-L` and `-D` listeners. A failure prints ssh's messages; it
/// is fatal only with `ExitOnForwardFailure`.
async fn local_forwards(
    session: &Session,
    setup: &ForwardSetup,
    on_failure: &OnFailure,
) -> Result<Vec<ForwardListener>, ()> {
    let mut listeners = Vec::new();
    let all = setup
        .local
        .iter()
        .map(|f| (f, f.connect.as_ref().map(target)))
        .chain(setup.dynamic.iter().map(|f| (f, None)));
    for (f, to) in all {
        let started = match local_listen(&f.listen, setup.gateway_ports) {
            Ok(listen) => {
                conch_tokio::local_forward(session, &listen, to, Some(on_failure.clone()))
                    .await
                    .map_err(|e| format!("bind [{}]: {e}", describe(&f.listen)))
            }
            Err(m) => Err(m),
        };
        match started {
            Ok(l) => listeners.push(l),
            Err(message) => {
                eprintln!("{message}");
                eprintln!("Could not request local forwarding.");
                if setup.exit_on_failure {
                    return Err(());
                }
            }
        }
    }
    Ok(listeners)
}

/// Asks for the `-R` forwards and serves them. A refused one prints ssh's
/// warning ("Warning: remote port forwarding failed for listen port N"),
/// fatal with `ExitOnForwardFailure`; a port-0 one prints the port given.
async fn remote_forwards(
    session: &Session,
    setup: &ForwardSetup,
    on_failure: &OnFailure,
    quiet: bool,
    agent: Option<Target>,
) -> Result<(), ()> {
    let mut targets = Vec::new();
    for ConfigForward { listen, connect } in &setup.remote {
        let (forward, what) = match listen {
            Endpoint::Path(p) => (
                Forward::Streamlocal { path: p.clone() },
                format!("listen path {p}"),
            ),
            // ssh's `channel_rfwd_bind_host`: no address is "localhost",
            // "" or "*" every address.
            Endpoint::Tcp { host, port } => (
                Forward::Tcpip {
                    address: match host.as_deref() {
                        None => "localhost".to_string(),
                        Some("*") => String::new(),
                        Some(h) => h.to_string(),
                    },
                    port: u32::from(*port),
                },
                format!("listen port {port}"),
            ),
        };
        match session.request_forward(&forward).await {
            Ok(bound) => {
                let forward = match forward {
                    Forward::Tcpip { address, port: 0 } => {
                        if !quiet {
                            match connect {
                                Some(c) => eprintln!(
                                    "Allocated port {bound} for remote forward to {}",
                                    describe(c)
                                ),
                                None => {
                                    eprintln!("Allocated port {bound} for remote dynamic forward")
                                }
                            }
                        }
                        Forward::Tcpip {
                            address,
                            port: bound,
                        }
                    }
                    other => other,
                };
                targets.push(RemoteTarget {
                    forward,
                    // No target: remote dynamic forwarding (OpenSSH 7.6),
                    // each connection's SOCKS request names where it goes.
                    target: connect.as_ref().map_or(Target::Socks, target),
                });
            }
            Err(Error::RequestRefused { .. }) if setup.exit_on_failure => {
                eprintln!("Error: remote port forwarding failed for {what}");
                return Err(());
            }
            Err(Error::RequestRefused { .. }) => {
                eprintln!("Warning: remote port forwarding failed for {what}")
            }
            Err(e) => {
                eprintln!("conch: remote forwarding: {e}");
                return Err(());
            }
        }
    }
    if !targets.is_empty() || agent.is_some() {
        let session = session.clone();
        let on_failure = on_failure.clone();
        tokio::spawn(async move {
            conch_tokio::serve_forwarded(&session, targets, agent, Some(on_failure)).await
        });
    }
    Ok(())
}

/// `-W`: stdin and stdout to a `direct-tcpip` channel.
async fn stdio_forward(session: &Session, host: &str, port: u16) -> i32 {
    let channel = match session.open_direct_tcpip(host, port).await {
        Ok(c) => c,
        Err(Error::ChannelOpenRefused {
            reason,
            description,
        }) => {
            eprintln!(
                "channel 0: open failed: {}: {description}",
                open_failure_text(reason)
            );
            eprintln!("stdio forwarding failed");
            return FAILURE;
        }
        Err(e) => {
            eprintln!("conch: {e}");
            eprintln!("stdio forwarding failed");
            return FAILURE;
        }
    };
    let (mut rd, mut wr) = tokio::io::split(channel);
    let up = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if wr.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        // stdin's end is the channel's EOF.
        let _ = wr.shutdown().await;
    };
    let down = async {
        let mut stdout = tokio::io::stdout();
        let r = tokio::io::copy(&mut rd, &mut stdout).await;
        let _ = stdout.flush().await;
        r
    };
    // The target's end ends `-W` (stdin may be a terminal that never ends).
    tokio::select! {
        r = down => if r.is_err() { return FAILURE },
        () = async { up.await; std::future::pending::<()>().await } => {}
    }
    0
}

/// Runs `conch` with forwarding; returns the exit status.
pub(super) async fn run(
    args: &ClientArgs,
    setup: &ForwardSetup,
    endpoint: CommandEndpoint,
    debug: &Debug,
) -> i32 {
    // Through the jump hosts, if any (HostConfig's endpoint).
    let session = match endpoint.connect_session().await {
        Ok(s) => s,
        Err(e) => return report(args, &e),
    };
    let on_failure = open_failure_reporter();
    // -W forwards nothing else (ssh clears the forwards with it).
    if let Some((host, port)) = &args.stdio_forward {
        return stdio_forward(&session, host, *port).await;
    }
    let Ok(_listeners) = local_forwards(&session, setup, &on_failure).await else {
        return FAILURE;
    };
    // -A: the server's agent channels go to the local agent (ssh -N asks
    // for no session, so no agent either).
    let agent = agent_target(args);
    if remote_forwards(&session, setup, &on_failure, args.quiet, agent)
        .await
        .is_err()
    {
        return FAILURE;
    }
    if args.no_command {
        debug.log("No command (-N): forwarding until the connection ends.");
        session.closed().await;
        return match session.disconnect_reason() {
            Some(e) => {
                eprintln!("Connection to {} closed: {e}", args.host);
                FAILURE
            }
            None => 0,
        };
    }
    super::run_command(&session, args, debug).await
}

/// The command's channel (a shell without one), without a terminal.
pub(super) async fn open_command(
    session: &Session,
    command: &str,
    forward_agent: bool,
) -> Result<conch_tokio::Channel, EndpointError> {
    let channel = session
        .open_session()
        .await
        .map_err(EndpointError::from_session_error)?;
    if forward_agent {
        channel
            .request_agent_forwarding()
            .map_err(EndpointError::from_session_error)?;
    }
    let started = if command.is_empty() {
        channel.shell().await
    } else {
        channel.exec(command).await
    };
    started.map_err(EndpointError::from_session_error)?;
    Ok(channel)
}

/// Whether `-A` (or ForwardAgent yes) asks for agent forwarding.
pub(super) fn agent_wanted(args: &ClientArgs) -> bool {
    args.forward_agent == Some(true)
}

/// Where agent channels go with `-A`: the agent at `SSH_AUTH_SOCK`. With
/// none, agent forwarding is still requested and each channel is refused,
/// as ssh's are when it cannot reach its agent.
pub(super) fn agent_target(args: &ClientArgs) -> Option<Target> {
    if !agent_wanted(args) {
        return None;
    }
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(|s| Target::Unix(PathBuf::from(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(host: Option<&str>, gateway_ports: bool) -> Vec<SocketAddr> {
        let e = Endpoint::Tcp {
            host: host.map(str::to_string),
            port: 8080,
        };
        match local_listen(&e, gateway_ports).unwrap() {
            Listen::Tcp(addrs) => addrs,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn local_listeners_bind_loopback_unless_gateway_ports() {
        let loopback: Vec<SocketAddr> = vec!["127.0.0.1:8080".parse().unwrap()];
        let every: Vec<SocketAddr> = vec!["0.0.0.0:8080".parse().unwrap()];
        // -L 8080:... : loopback, or every address with GatewayPorts yes.
        assert_eq!(bound(None, false), loopback);
        assert_eq!(bound(None, true), every);
        // An explicit address wins over GatewayPorts either way.
        assert_eq!(bound(Some("localhost"), true), loopback);
        assert_eq!(bound(Some("127.0.0.1"), true), loopback);
        assert_eq!(bound(Some("*"), false), every);
        assert_eq!(bound(Some(""), false), every);
    }
}
