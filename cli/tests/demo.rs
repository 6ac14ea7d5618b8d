//! `conch --demo` on a machine with nothing set up: no ~/.ssh, no agent.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use conch_interop::{run_bounded, Input};

#[test]
fn the_demo_runs_both_examples_and_exits_0() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_conch"));
    command
        .arg("--demo")
        .env("HOME", "/nonexistent/conch-demo-home")
        .env_remove("SSH_AUTH_SOCK");
    let out = run_bounded(&mut command, Input::Null, Duration::from_secs(120));
    out.assert_success();
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().collect();

    // It says what it set up, and that the fresh host key is accepted new.
    assert!(
        text.contains("in-process conchd listens on 127.0.0.1:"),
        "{out}"
    );
    assert!(text.contains("accept-new"), "{out}");
    assert!(text.contains("to the list of known hosts"), "{out}");

    // The echo client: each word comes back in order.
    let says: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("Server says: "))
        .collect();
    assert_eq!(
        says,
        ["Server says: bif", "Server says: pow", "Server says: zot"],
        "{out}"
    );

    // The 50 commands: every number once, and 50 ends.
    let numbers: BTreeSet<u32> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Got some data: "))
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(numbers, (0..50).collect(), "{out}");
    let lost = lines.iter().filter(|l| **l == "Lost my connection").count();
    assert_eq!(lost, 50, "{out}");
    assert!(text.contains("50 commands ran on one connection"), "{out}");
}
