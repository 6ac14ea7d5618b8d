#!/usr/bin/env bash
# Re-records the transcripts in this directory against real peers (OpenSSH
# sshd, dropbear, and OpenSSH's ssh against conchd), with the interop
# harness of tests/ (see README.md here).
#
# Needs what every interop test needs: run `scripts/test --setup-only` once,
# as root (it installs the peers and creates the test user). Each recording
# is replayed before it is written. Then review and commit the new files.
#
#   tests/transcripts/record.sh                      # all of them
#   tests/transcripts/record.sh record_dropbear_exec # one
#   CONCH_TRANSCRIPTS_DIR=/tmp/t tests/transcripts/record.sh  # elsewhere
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo test -p conch-interop --test record_transcripts -- \
    --ignored --test-threads=1 --nocapture "$@"
