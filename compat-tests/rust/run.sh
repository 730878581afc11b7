#!/usr/bin/env bash
# Runs the rust-rdkafka compatibility tests against a gregor binary.
#
#   compat-tests/rust/run.sh [cargo test args...]     e.g.  run.sh --test admin
#
#   GREGOR_BIN        broker under test (default <repo>/target/debug/gregor; build it first)
#   CARGO_TARGET_DIR  default <repo>/target/rdkafka (shared with benches/, so
#                     librdkafka is compiled once)
#   CARGO_BUILD_JOBS  default 1
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/rdkafka}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
export GREGOR_BIN="${GREGOR_BIN:-$ROOT/target/debug/gregor}"
if [[ ! -x "$GREGOR_BIN" ]]; then
    echo "gregor binary not found at $GREGOR_BIN (cargo build in $ROOT, or set GREGOR_BIN)" >&2
    exit 1
fi
cd "$HERE"
exec cargo test "$@"
