#!/usr/bin/env bash
# Build gregor (release) and gregor-bench, start gregor on a free loopback
# port with a temporary data dir, run the benchmark against it (with the
# broker's CPU accounting), and stop the broker.
#
#   benches/run.sh [gregor-bench options...]     e.g. --messages 500000 --size 1000
#
# Environment:
#   CARGO_TARGET_DIR  target dir for gregor-bench (default <repo>/target/rdkafka,
#                     shared with compat-tests/rust so librdkafka is compiled once);
#                     the root crate is always built into <repo>/target.
#   CARGO_BUILD_JOBS  default 1 (the machine is small and shared)
#   GREGOR_BIN        use this broker binary instead of building target/release/gregor
#   RUST_LOG          broker log filter (default: warn)
#   BENCH_ARGS        default bench options when none are given on the command line
#   BENCH_TLS=1       serve an SSL listener (a throw-away CA and certificate made
#                     with openssl) and connect every client over TLS
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
BENCH_TARGET="${CARGO_TARGET_DIR:-$ROOT/target/rdkafka}"
export CARGO_TARGET_DIR="$BENCH_TARGET"

if [[ -z "${GREGOR_BIN:-}" ]]; then
    echo "== building gregor (release)" >&2
    (cd "$ROOT" && env -u CARGO_TARGET_DIR cargo build --release --bin gregor)
    GREGOR_BIN="$ROOT/target/release/gregor"
fi

echo "== building gregor-bench (CARGO_TARGET_DIR=$BENCH_TARGET)" >&2
(cd "$ROOT/benches" && CARGO_TARGET_DIR="$BENCH_TARGET" cargo build --bin gregor-bench)
BENCH="$BENCH_TARGET/debug/gregor-bench"

PORT="$("$BENCH" --free-port)"
TMP="$(mktemp -d -t gregor-bench-XXXXXX)"
mkdir -p "$TMP/data"
LISTENER="PLAINTEXT://127.0.0.1:$PORT"
TLS_OVERRIDES=()
TLS_CLIENT=()
if [[ -n "${BENCH_TLS:-}" ]]; then
    LISTENER="SSL://127.0.0.1:$PORT"
    (
        cd "$TMP"
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench-ca \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=broker -keyout broker.key \
            -out broker.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > broker.ext
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
            -extfile broker.ext -out broker.pem 2>/dev/null
        cat broker.key broker.pem > broker-keystore.pem
    )
    TLS_OVERRIDES=(--override "ssl.keystore.location=$TMP/broker-keystore.pem")
    TLS_CLIENT=(-X security.protocol=SSL -X "ssl.ca.location=$TMP/ca.pem")
fi

BROKER_PID=""
cleanup() {
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$BROKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "== broker did not stop on SIGTERM within 10 s; SIGKILL" >&2
            kill -KILL "$BROKER_PID" 2>/dev/null || true
        fi
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    if [[ -n "${GREGOR_KEEP_DATA:-}" ]]; then
        echo "== kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

echo "== starting $GREGOR_BIN on 127.0.0.1:$PORT (data $TMP/data, log $TMP/gregor.log)" >&2
RUST_LOG="${RUST_LOG:-warn}" "$GREGOR_BIN" broker \
    --override "listeners=$LISTENER" \
    --override "advertised.listeners=$LISTENER" \
    --override "log.dirs=$TMP/data" \
    --override "node.id=1" \
    "${TLS_OVERRIDES[@]}" \
    </dev/null >"$TMP/gregor.log" 2>&1 &
BROKER_PID=$!

for i in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        break
    fi
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "== broker exited during startup:" >&2
        tail -n 40 "$TMP/gregor.log" >&2
        exit 1
    fi
    if [[ $i == 200 ]]; then
        echo "== broker port $PORT not accepting after 20 s" >&2
        tail -n 40 "$TMP/gregor.log" >&2
        exit 1
    fi
    sleep 0.1
done

if [[ $# -eq 0 ]]; then
    # Moderate defaults: the whole run stays well under two minutes on 2 cores.
    # shellcheck disable=SC2086
    set -- ${BENCH_ARGS:---messages 200000 --size 100 --acks 1,all --latency-count 2000 --latency-max-secs 20}
fi

echo "== $BENCH --bootstrap 127.0.0.1:$PORT --broker-pid $BROKER_PID $*" >&2
"$BENCH" --bootstrap "127.0.0.1:$PORT" --broker-pid "$BROKER_PID" "${TLS_CLIENT[@]}" "$@"
status=$?
if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "== broker died during the benchmark:" >&2
    tail -n 40 "$TMP/gregor.log" >&2
    exit 1
fi
exit $status
