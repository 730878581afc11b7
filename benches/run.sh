#!/usr/bin/env bash
# Build gregor (release) and gregor-bench, start gregor on a free loopback
# port with a temporary data dir, run the benchmark against it (with the
# broker's CPU accounting), and stop the broker.
#
#   benches/run.sh [--against gregor|kafka|both] [gregor-bench options...]
#                                                e.g. --messages 500000 --size 1000
#
# --against kafka runs the same benchmark against Apache Kafka 4.4 (KRaft,
# one combined broker/controller node, data in the same temporary dir, the
# JVM options of kafka-server-start.sh), started from the Maven artifacts
# (benches/kafka/pom.xml; the classpath is resolved once into
# target/kafka-bench/); --against both runs gregor, then Kafka.
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
#   BENCH_ROUNDS      rounds, each on a fresh broker (default 1)
#   BENCH_WARMUP      messages produced and consumed before each measured run
#                     (default 0: none)
#   BENCH_BROKER_CONFIG  broker settings for both brokers, space-separated
#                     key=value (e.g. "log.segment.bytes=16777216" to measure
#                     produce while segments roll)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
BENCH_TARGET="${CARGO_TARGET_DIR:-$ROOT/target/rdkafka}"
export CARGO_TARGET_DIR="$BENCH_TARGET"

AGAINST=gregor
if [[ "${1:-}" == "--against" ]]; then
    AGAINST="${2:-}"
    shift 2 || true
fi
case "$AGAINST" in
    gregor | kafka | both) ;;
    *)
        echo "--against gregor, kafka or both, not '$AGAINST'" >&2
        exit 2
        ;;
esac

if [[ "$AGAINST" != kafka && -z "${GREGOR_BIN:-}" ]]; then
    echo "== building gregor (release)" >&2
    (cd "$ROOT" && env -u CARGO_TARGET_DIR cargo build --release --bin gregor)
    GREGOR_BIN="$ROOT/target/release/gregor"
fi

echo "== building gregor-bench (CARGO_TARGET_DIR=$BENCH_TARGET)" >&2
(cd "$ROOT/benches" && CARGO_TARGET_DIR="$BENCH_TARGET" cargo build --bin gregor-bench)
BENCH="$BENCH_TARGET/debug/gregor-bench"

TMP="$(mktemp -d -t gregor-bench-XXXXXX)"
TLS_CLIENT=()
if [[ -n "${BENCH_TLS:-}" ]]; then
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
    TLS_CLIENT=(-X security.protocol=SSL -X "ssl.ca.location=$TMP/ca.pem")
fi

BROKER_PID=""
stop_broker() {
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$BROKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "== broker did not stop on SIGTERM within 30 s; SIGKILL" >&2
            kill -KILL "$BROKER_PID" 2>/dev/null || true
        fi
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    BROKER_PID=""
}
cleanup() {
    stop_broker
    if [[ -n "${GREGOR_KEEP_DATA:-}" ]]; then
        echo "== kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# wait_until_ready LOG SECONDS [LINE]: the broker's port accepts, and LOG
# has LINE if given; fails (with the log's tail) if the broker exits.
wait_until_ready() {
    local log="$1" seconds="$2" line="${3:-}"
    for i in $(seq 1 $((seconds * 10))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null &&
            { [[ -z "$line" ]] || grep -q "$line" "$log"; }; then
            return 0
        fi
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "== broker exited during startup:" >&2
            tail -n 40 "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "== broker on port $PORT not ready after $seconds s" >&2
    tail -n 40 "$log" >&2
    exit 1
}

start_gregor() {
    local listener="PLAINTEXT://127.0.0.1:$PORT" extra=()
    if [[ -n "${BENCH_TLS:-}" ]]; then
        listener="SSL://127.0.0.1:$PORT"
        extra=(--override "ssl.keystore.location=$TMP/broker-keystore.pem")
    fi
    local key_value
    for key_value in ${BENCH_BROKER_CONFIG:-}; do
        extra+=(--override "$key_value")
    done
    rm -rf "$TMP/gregor"
    mkdir -p "$TMP/gregor"
    echo "== starting $GREGOR_BIN on 127.0.0.1:$PORT (data and log in $TMP/gregor)" >&2
    RUST_LOG="${RUST_LOG:-warn}" "$GREGOR_BIN" broker \
        --override "listeners=$listener" \
        --override "advertised.listeners=$listener" \
        --override "log.dirs=$TMP/gregor/data" \
        --override "node.id=1" \
        "${extra[@]}" \
        </dev/null >"$TMP/gregor/gregor.log" 2>&1 &
    BROKER_PID=$!
    wait_until_ready "$TMP/gregor/gregor.log" 20
}

start_kafka() {
    local classpath_file="$ROOT/target/kafka-bench/classpath.txt"
    if [[ ! -s "$classpath_file" || "$ROOT/benches/kafka/pom.xml" -nt "$classpath_file" ]]; then
        echo "== resolving Apache Kafka's broker (Maven: benches/kafka/pom.xml)" >&2
        mkdir -p "$(dirname "$classpath_file")"
        mvn -q -B -f "$ROOT/benches/kafka/pom.xml" dependency:build-classpath \
            -Dmdep.outputFile="$classpath_file" >&2
    fi
    local classpath controller_port dir="$TMP/kafka" protocol=PLAINTEXT
    classpath="$(cat "$classpath_file")"
    controller_port="$("$BENCH" --free-port)"
    [[ -n "${BENCH_TLS:-}" ]] && protocol=SSL
    rm -rf "$dir"
    mkdir -p "$dir/data"
    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=$protocol://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$protocol://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=$protocol
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    if [[ -n "${BENCH_TLS:-}" ]]; then
        printf 'ssl.keystore.type=PEM\nssl.keystore.location=%s\n' \
            "$TMP/broker-keystore.pem" >>"$dir/server.properties"
    fi
    local key_value
    for key_value in ${BENCH_BROKER_CONFIG:-}; do
        printf '%s\n' "$key_value" >>"$dir/server.properties"
    done
    local cluster_id
    cluster_id="$(java -cp "$classpath" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    if ! java -cp "$classpath" kafka.tools.StorageTool format -t "$cluster_id" \
        -c "$dir/server.properties" >"$dir/format.log" 2>&1; then
        echo "== formatting Kafka's log dir failed:" >&2
        tail -n 20 "$dir/format.log" >&2
        exit 1
    fi
    echo "== starting Apache Kafka on 127.0.0.1:$PORT (data and log in $dir)" >&2
    # kafka-server-start.sh's heap and kafka-run-class.sh's JVM options;
    # SLF4J logs at WARN, but for the line that says the broker is up.
    java -Xmx1G -Xms1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -Djava.awt.headless=true \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info \
        -cp "$classpath" kafka.Kafka "$dir/server.properties" \
        </dev/null >"$dir/kafka.log" 2>&1 &
    BROKER_PID=$!
    wait_until_ready "$dir/kafka.log" 90 "Kafka Server started"
}

if [[ $# -eq 0 ]]; then
    # Moderate defaults: the whole run stays well under two minutes on 2 cores.
    # shellcheck disable=SC2086
    set -- ${BENCH_ARGS:---messages 200000 --size 100 --acks 1,all --latency-count 2000 --latency-max-secs 20}
fi

# bench NAME ARGS...: starts broker NAME, warms it up (BENCH_WARMUP
# messages, output dropped: a JVM compiles its hot paths in the first
# seconds, and both brokers get the same), runs the benchmark against it,
# stops it.
bench() {
    PORT="$("$BENCH" --free-port)"
    "start_$1"
    local client=("$BENCH" --bootstrap "127.0.0.1:$PORT" --broker-pid "$BROKER_PID" "${TLS_CLIENT[@]}")
    if [[ "${BENCH_WARMUP:-0}" -gt 0 ]]; then
        echo "== [$1] warm-up: $BENCH_WARMUP messages" >&2
        "${client[@]}" "${@:2}" --messages "$BENCH_WARMUP" --skip-latency \
            --topic-prefix gregor-bench-warmup >/dev/null
    fi
    echo "== [$1] ${client[*]} --machine $TMP ${*:2}" >&2
    local status=0
    "${client[@]}" --machine "$TMP" "${@:2}" | sed "s/^/[$1] /" || status=$?
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "== $1 died during the benchmark" >&2
        exit 1
    fi
    stop_broker
    return "$status"
}

# BENCH_ROUNDS rounds, each on a fresh broker (both: gregor, then Kafka).
for round in $(seq 1 "${BENCH_ROUNDS:-1}"); do
    [[ "${BENCH_ROUNDS:-1}" -gt 1 ]] && echo "== round $round" >&2
    case "$AGAINST" in
        gregor) bench gregor "$@" ;;
        kafka) bench kafka "$@" ;;
        both)
            bench gregor "$@"
            bench kafka "$@"
            ;;
    esac
done
