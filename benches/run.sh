#!/usr/bin/env bash
# Build gregor (release) and gregor-bench, start gregor on a free loopback
# port with a temporary data dir, run the benchmark against it (with the
# broker's CPU accounting), and stop the broker.
#
#   benches/run.sh [--against gregor|kafka|both] [--nodes N] [--goals]
#                  [gregor-bench options...]      e.g. --messages 500000 --size 1000
#
# --against kafka runs the same benchmark against Apache Kafka 4.4 (KRaft,
# combined broker/controller nodes, data in the same temporary dir, the
# JVM options of kafka-server-start.sh), started from the Maven artifacts
# (benches/kafka/pom.xml; the classpath is resolved once into
# target/kafka-bench/); --against both runs gregor, then Kafka.
#
# --nodes N starts N brokers as separate processes forming one cluster
# (every one a voter of the metadata quorum; Kafka's internal topics at
# replication factor min(N, 3)); the bench's topics then have N replicas,
# acks=all, and the same workload also runs on topics of one replica for
# the ratio (--compare-rf 1). The brokers' CPU is summed over all of them.
#
# --goals measures the efficiency goals, each row in one invocation: cold
# start (exec -> first Metadata, idle RSS), the machine's limits and 1 GB
# of 1 KiB records produced (acks=all) and consumed, on a fresh broker in
# each of several rounds, one broker (CPU per Produce
# request alone and with a consumer tailing; latency at 2,000 msg/s linger
# 0 and 10,000 msg/s linger 5, several rounds; 1,000 and 10,000
# partitions; produce spread over them; 1,000 idle connections), then a
# cluster of three (RF 3 acks=all against RF 1). Options given with it are
# appended to the bench command lines of the one-broker and three-broker
# stages (the later value wins).
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
#                     with openssl) and connect every client over TLS (one node only)
#   BENCH_ROUNDS      rounds, each on a fresh broker (default 1)
#   BENCH_WARMUP      messages produced and consumed before each measured run
#                     (default 0: none; 100000 with --goals)
#   BENCH_BROKER_CONFIG  broker settings for both brokers, space-separated
#                     key=value (e.g. "log.segment.bytes=16777216" to measure
#                     produce while segments roll)
#   GOALS_COLD_STARTS       --goals: starts of gregor in each mode (default 10)
#   GOALS_KAFKA_COLD_STARTS --goals: starts of Kafka (default 2; each is seconds)
#   GOALS_THROUGHPUT_ROUNDS --goals: rounds of the 1 KiB produce and consume (default 3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
BENCH_TARGET="${CARGO_TARGET_DIR:-$ROOT/target/rdkafka}"
export CARGO_TARGET_DIR="$BENCH_TARGET"

# run.sh's own options, anywhere on the line; the rest goes to the bench.
AGAINST=gregor
NODES=1
GOALS=""
ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --against) AGAINST="${2:-}"; shift 2 || shift ;;
        --against=*) AGAINST="${1#*=}"; shift ;;
        --nodes) NODES="${2:-}"; shift 2 || shift ;;
        --nodes=*) NODES="${1#*=}"; shift ;;
        --goals) GOALS=1; shift ;;
        *) ARGS+=("$1"); shift ;;
    esac
done
set -- ${ARGS[@]+"${ARGS[@]}"}
case "$AGAINST" in
    gregor | kafka | both) ;;
    *)
        echo "--against gregor, kafka or both, not '$AGAINST'" >&2
        exit 2
        ;;
esac
if ! [[ "$NODES" =~ ^[1-9][0-9]*$ ]]; then
    echo "--nodes takes a number of brokers, not '$NODES'" >&2
    exit 2
fi
if [[ -n "${BENCH_TLS:-}" && ( "$NODES" -gt 1 || -n "$GOALS" ) ]]; then
    echo "BENCH_TLS=1 is for one node without --goals (the cluster and raw-socket phases are plaintext)" >&2
    exit 2
fi

if [[ "$AGAINST" != kafka && -z "${GREGOR_BIN:-}" ]]; then
    echo "== building gregor (release)" >&2
    (cd "$ROOT" && env -u CARGO_TARGET_DIR cargo build --release --bin gregor)
    GREGOR_BIN="$ROOT/target/release/gregor"
    python3 "$ROOT/benches/symbol_order.py" --check "$GREGOR_BIN" >&2 || true
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

# The running brokers: their pids, client ports and logs (one per node).
BROKER_PIDS=()
PORTS=()
LOGS=()
stop_brokers() {
    local pid waited=0
    for pid in ${BROKER_PIDS[@]+"${BROKER_PIDS[@]}"}; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in ${BROKER_PIDS[@]+"${BROKER_PIDS[@]}"}; do
        while kill -0 "$pid" 2>/dev/null && [[ $waited -lt 300 ]]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "== broker $pid did not stop on SIGTERM within 30 s; SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    BROKER_PIDS=()
    PORTS=()
    LOGS=()
}
cleanup() {
    stop_brokers
    if [[ -n "${GREGOR_KEEP_DATA:-}" ]]; then
        echo "== kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# free_ports N: N distinct free loopback ports, one a line.
free_ports() {
    local -A seen=()
    local port
    while [[ ${#seen[@]} -lt $1 ]]; do
        port="$("$BENCH" --free-port)"
        if [[ -z "${seen[$port]:-}" ]]; then
            seen[$port]=1
            echo "$port"
        fi
    done
}

# wait_until_ready SECONDS [LINE]: every broker's port accepts, and its log
# has LINE if given; fails (with the log's tail) if a broker exits.
wait_until_ready() {
    local seconds="$1" line="${2:-}" i n ready
    for i in $(seq 1 $((seconds * 10))); do
        ready=0
        for n in "${!BROKER_PIDS[@]}"; do
            if ! kill -0 "${BROKER_PIDS[$n]}" 2>/dev/null; then
                echo "== broker $((n + 1)) exited during startup:" >&2
                tail -n 40 "${LOGS[$n]}" >&2
                exit 1
            fi
            if (exec 3<>"/dev/tcp/127.0.0.1/${PORTS[$n]}") 2>/dev/null &&
                { [[ -z "$line" ]] || grep -q "$line" "${LOGS[$n]}"; }; then
                ready=$((ready + 1))
            fi
        done
        [[ $ready -eq ${#BROKER_PIDS[@]} ]] && return 0
        sleep 0.1
    done
    echo "== brokers on ports ${PORTS[*]} not ready after $seconds s" >&2
    for n in "${!LOGS[@]}"; do tail -n 20 "${LOGS[$n]}" >&2; done
    exit 1
}

start_gregor() {
    local ports n
    mapfile -t ports < <(free_ports $((2 * NODES)))
    local voters="" key_value
    for n in $(seq 1 "$NODES"); do
        voters+="${voters:+,}$n@127.0.0.1:${ports[$((NODES + n - 1))]}"
    done
    for n in $(seq 1 "$NODES"); do
        local port="${ports[$((n - 1))]}" dir="$TMP/gregor-$n" extra=()
        local listener="PLAINTEXT://127.0.0.1:$port"
        if [[ -n "${BENCH_TLS:-}" ]]; then
            listener="SSL://127.0.0.1:$port"
            extra+=(--override "ssl.keystore.location=$TMP/broker-keystore.pem")
        fi
        local listeners="$listener"
        if [[ "$NODES" -gt 1 ]]; then
            # A cluster: every broker is a voter of the metadata quorum.
            listeners+=",CONTROLLER://127.0.0.1:${ports[$((NODES + n - 1))]}"
            extra+=(--override "process.roles=broker,controller"
                --override "controller.listener.names=CONTROLLER"
                --override "controller.quorum.voters=$voters")
        fi
        for key_value in ${BENCH_BROKER_CONFIG:-}; do
            extra+=(--override "$key_value")
        done
        rm -rf "$dir"
        mkdir -p "$dir"
        echo "== starting $GREGOR_BIN (node $n of $NODES) on 127.0.0.1:$port (data and log in $dir)" >&2
        RUST_LOG="${RUST_LOG:-warn}" "$GREGOR_BIN" broker \
            --override "listeners=$listeners" \
            --override "advertised.listeners=$listener" \
            --override "log.dirs=$dir/data" \
            --override "node.id=$n" \
            "${extra[@]}" \
            </dev/null >"$dir/gregor.log" 2>&1 &
        BROKER_PIDS+=($!)
        PORTS+=("$port")
        LOGS+=("$dir/gregor.log")
    done
    wait_until_ready 20
}

KAFKA_CLASSPATH=""
kafka_classpath() {
    local classpath_file="$ROOT/target/kafka-bench/classpath.txt"
    if [[ ! -s "$classpath_file" || "$ROOT/benches/kafka/pom.xml" -nt "$classpath_file" ]]; then
        echo "== resolving Apache Kafka's broker (Maven: benches/kafka/pom.xml)" >&2
        mkdir -p "$(dirname "$classpath_file")"
        mvn -q -B -f "$ROOT/benches/kafka/pom.xml" dependency:build-classpath \
            -Dmdep.outputFile="$classpath_file" >&2
    fi
    KAFKA_CLASSPATH="$(cat "$classpath_file")"
}

# kafka_java DIR: the command line of a Kafka node configured in DIR:
# kafka-server-start.sh's heap and kafka-run-class.sh's JVM options; SLF4J
# logs at WARN, but for the line that says the broker is up.
kafka_java() {
    KAFKA_JAVA=(java -Xmx1G -Xms1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
        -Djava.awt.headless=true
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
        -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info
        -cp "$KAFKA_CLASSPATH" kafka.Kafka "$1/server.properties")
}

# kafka_configure DIR NODE_ID PORT CONTROLLER_PORT VOTERS CLUSTER_ID: writes
# DIR/server.properties for one combined broker/controller node of a
# cluster of NODES and formats its log dir.
kafka_configure() {
    local dir="$1" id="$2" port="$3" controller_port="$4" voters="$5" cluster_id="$6"
    local protocol=PLAINTEXT internal_rf=$((NODES < 3 ? NODES : 3))
    [[ -n "${BENCH_TLS:-}" ]] && protocol=SSL
    rm -rf "$dir"
    mkdir -p "$dir/data"
    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=$protocol://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$protocol://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=$protocol
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=$internal_rf
transaction.state.log.replication.factor=$internal_rf
transaction.state.log.min.isr=$((internal_rf > 1 ? 2 : 1))
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
    if ! java -cp "$KAFKA_CLASSPATH" kafka.tools.StorageTool format -t "$cluster_id" \
        -c "$dir/server.properties" >"$dir/format.log" 2>&1; then
        echo "== formatting Kafka's log dir failed:" >&2
        tail -n 20 "$dir/format.log" >&2
        exit 1
    fi
}

kafka_cluster_id() {
    java -cp "$KAFKA_CLASSPATH" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1
}

start_kafka() {
    kafka_classpath
    local ports n voters="" cluster_id
    mapfile -t ports < <(free_ports $((2 * NODES)))
    for n in $(seq 1 "$NODES"); do
        voters+="${voters:+,}$n@127.0.0.1:${ports[$((NODES + n - 1))]}"
    done
    cluster_id="$(kafka_cluster_id)"
    for n in $(seq 1 "$NODES"); do
        local port="${ports[$((n - 1))]}" dir="$TMP/kafka-$n"
        kafka_configure "$dir" "$n" "$port" "${ports[$((NODES + n - 1))]}" "$voters" "$cluster_id"
        kafka_java "$dir"
        echo "== starting Apache Kafka (node $n of $NODES) on 127.0.0.1:$port (data and log in $dir)" >&2
        "${KAFKA_JAVA[@]}" </dev/null >"$dir/kafka.log" 2>&1 &
        BROKER_PIDS+=($!)
        PORTS+=("$port")
        LOGS+=("$dir/kafka.log")
    done
    wait_until_ready $((60 + 30 * NODES)) "Kafka Server started"
}

if [[ $# -eq 0 && -z "$GOALS" ]]; then
    # Moderate defaults: the whole run stays well under two minutes on 2 cores.
    # shellcheck disable=SC2086
    set -- ${BENCH_ARGS:---messages 200000 --size 100 --acks 1,all --latency-count 2000 --latency-max-secs 20}
fi

# bench NAME ARGS...: starts broker NAME (NODES of them), warms it up
# (BENCH_WARMUP messages, output dropped: a JVM compiles its hot paths in
# the first seconds, and both brokers get the same), runs the benchmark
# against it, stops it. With several nodes the topics get NODES replicas,
# acks=all, and the RF 1 comparison, unless ARGS say otherwise.
bench() {
    local name="$1" label="$1"
    shift
    "start_$name"
    local bootstrap
    bootstrap="$(printf '127.0.0.1:%s,' "${PORTS[@]}")"
    local pids="${BROKER_PIDS[*]}"
    local client=("$BENCH" --bootstrap "${bootstrap%,}" --broker-pid "${pids// /,}" ${TLS_CLIENT[@]+"${TLS_CLIENT[@]}"})
    local cluster=()
    if [[ "$NODES" -gt 1 ]]; then
        label="$name x$NODES"
        cluster=(--replication-factor "$NODES" --acks all --latency-acks all --compare-rf 1)
    fi
    if [[ "${BENCH_WARMUP:-0}" -gt 0 ]]; then
        echo "== [$label] warm-up: $BENCH_WARMUP messages" >&2
        "${client[@]}" ${cluster[@]+"${cluster[@]}"} "$@" --messages "$BENCH_WARMUP" --warmup \
            --topic-prefix gregor-bench-warmup >/dev/null
    fi
    local machine=(--machine "$TMP")
    [[ -n "$GOALS" ]] && machine=()
    echo "== [$label] ${client[*]} ${machine[*]} ${cluster[*]} $*" >&2
    local status=0
    "${client[@]}" ${machine[@]+"${machine[@]}"} ${cluster[@]+"${cluster[@]}"} "$@" |
        sed -u "s/^/[$label] /" || status=$?
    local pid
    for pid in "${BROKER_PIDS[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "== $label (pid $pid) died during the benchmark" >&2
            exit 1
        fi
    done
    stop_brokers
    return "$status"
}

# cold_start NAME: exec -> first Metadata of fresh brokers, one at a time.
cold_start() {
    echo "== [$1] cold start" >&2
    case "$1" in
        gregor)
            "$BENCH" --cold-start "$GREGOR_BIN" --cold-start-runs "${GOALS_COLD_STARTS:-10}" |
                sed -u "s/^/[gregor] /"
            ;;
        kafka)
            kafka_classpath
            local run ports dir format_started
            for run in $(seq 1 "${GOALS_KAFKA_COLD_STARTS:-2}"); do
                mapfile -t ports < <(free_ports 2)
                dir="$TMP/kafka-cold-$run"
                # Kafka needs its log dir formatted first (gregor does not):
                # timed apart, not counted in the start.
                format_started=$EPOCHREALTIME
                NODES=1 kafka_configure "$dir" 1 "${ports[0]}" "${ports[1]}" \
                    "1@127.0.0.1:${ports[1]}" "$(kafka_cluster_id)"
                echo "[kafka] cold start kafka: run $run: random-uuid + StorageTool format before the exec (not counted): $(awk "BEGIN { printf \"%.0f\", ($EPOCHREALTIME - $format_started) * 1000 }") ms"
                kafka_java "$dir"
                "$BENCH" --cold-start-label kafka --cold-start-exec "127.0.0.1:${ports[0]}" -- \
                    "${KAFKA_JAVA[@]}" 2>"$dir/kafka.log" | sed -u "s/^/[kafka] /"
            done
            ;;
    esac
}

# goals NAME: every row of the goals table against broker NAME.
goals() {
    local name="$1"
    shift
    cold_start "$name"
    # The machine's limits are measured in each round, beside the figures
    # they bound: they move with the machine's other load.
    local round
    for round in $(seq 1 "${GOALS_THROUGHPUT_ROUNDS:-3}"); do
        echo "== [$name] goals: 1 KiB records, round $round" >&2
        NODES=1 bench "$name" --machine "$TMP" --skip-latency \
            --messages 1000000 --size 1024 --acks all
    done
    echo "== [$name] goals: one broker" >&2
    NODES=1 bench "$name" --skip-produce --skip-latency \
        --per-request 50000 \
        --paced 2000@0,10000@5 --paced-secs 10 --paced-rounds 3 \
        --scale-partitions 1000,10000 --scale-messages 1000000 \
        --idle-connections 1,1000 \
        "$@"
    echo "== [$name] goals: three brokers, RF 3 against RF 1" >&2
    NODES=3 bench "$name" --skip-produce --skip-latency \
        --messages 1000000 --per-request 20000 \
        --paced 2000@0,10000@5 --paced-secs 10 \
        "$@"
}

if [[ -n "$GOALS" ]]; then
    export BENCH_WARMUP="${BENCH_WARMUP:-100000}"
fi

# BENCH_ROUNDS rounds, each on a fresh broker (both: gregor, then Kafka).
for round in $(seq 1 "${BENCH_ROUNDS:-1}"); do
    [[ "${BENCH_ROUNDS:-1}" -gt 1 ]] && echo "== round $round" >&2
    for name in gregor kafka; do
        [[ "$AGAINST" == "$name" || "$AGAINST" == both ]] || continue
        if [[ -n "$GOALS" ]]; then
            goals "$name" "$@"
        else
            bench "$name" "$@"
        fi
    done
done
[[ -n "$GOALS" ]] && echo "== --goals took $SECONDS s" >&2
exit 0
