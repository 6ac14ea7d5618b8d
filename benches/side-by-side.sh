#!/usr/bin/env bash
# Conch side by side with OpenSSH over loopback (issue 5; BENCHMARKS.md,
# "Side by side with OpenSSH"): builds conch, conchd and
# concurrent_sessions in release mode, raises the open-files limit, and runs
# benches/side_by_side.py, which prints every run's raw numbers and the
# Markdown tables.
#
#   benches/side-by-side.sh                  # full run: 2 GB x 3, 1 GB through -L x 3, 200 connections, 1,000 sessions
#   benches/side-by-side.sh --quick          # smoke test: 200 MB x 1, 100 MB through -L, 20 connections, 200 sessions
#   benches/side-by-side.sh --pure-rust      # also conch/conchd on the pure-Rust crypto provider
#                                            # (built with --no-default-features; the default is ring)
#   benches/side-by-side.sh --russh          # also a russh client (benches/russh-client) against
#                                            # sshd and conchd, built in target/russh
#   benches/side-by-side.sh --no-build ...   # use the binaries already built
#
# Other options go to side_by_side.py (--runs N, --bytes N, --forward-bytes N,
# --connections N, --sessions N, --rate-sessions N, --rate-clients N,
# --only download,forwarded,connections,rate,concurrent,
# --keep, --openssh10 [DIR] for rows with OpenSSH 10 from /opt/openssh10, --ciphers LIST
# for the same-cipher rows; see --help).
# Run as root: sshd logs in the user running it.
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
build=1
pure=0
russh=0
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --pure-rust) pure=1; shift ;;
        --russh) russh=1; shift ;;
        --no-build) build=0; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

if [[ $build == 1 ]]; then
    cargo build --release -p conch-cli --bins
    cargo build --release -p conch-benches --bin concurrent_sessions
fi
args+=(--bin-dir "$target_dir/release")

if [[ $pure == 1 ]]; then
    # A separate target dir, so the default binaries stay as they are.
    if [[ $build == 1 ]]; then
        cargo build --release -p conch-cli --no-default-features --bins --target-dir target/pure
    fi
    args+=(--pure-dir target/pure/release)
fi

if [[ $russh == 1 ]]; then
    # Its own lock file and target dir: russh and aws-lc-rs stay out of the workspace.
    if [[ $build == 1 ]]; then
        cargo build --release --manifest-path benches/russh-client/Cargo.toml --target-dir target/russh
    fi
    args+=(--russh target/russh/release/russh-bench-client)
fi

# A thousand sessions need a thousand sockets in the client and in conchd
# (and a process each under conchd).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

exec python3 benches/side_by_side.py "${args[@]}"
