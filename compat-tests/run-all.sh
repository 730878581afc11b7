#!/usr/bin/env bash
# Runs every gregor test on a fresh machine: installs what the real clients
# need (Debian, Python and Maven packages), builds the broker, runs the unit
# tests, then the compatibility suites that drive a real broker process with
# kcat, confluent-kafka-python, kafka-python, aiokafka, Kafka's Java client
# (its own JUnit suite, and from Python) and command-line tools, the Go
# clients (franz-go, Sarama, kafka-go), the test helpers of testkits/ (a
# pytest plugin, a JUnit 5 extension, a Go package) with their examples,
# and the Rust rdkafka crate, and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Each stage says how long the previous one took, and the total at the end.
started=$SECONDS
stage_started=$SECONDS
stage() {
  echo "== ($((SECONDS - stage_started)) s) $*"
  stage_started=$SECONDS
}
background=""
trap '[ -z "$background" ] || kill "$background" 2>/dev/null; echo "== total $((SECONDS - started)) s"' EXIT

missing=()
command -v kcat >/dev/null || missing+=(kcat)
command -v cmake >/dev/null || missing+=(cmake)
command -v openssl >/dev/null || missing+=(openssl)  # test_tls.py makes its certificates
command -v ip >/dev/null || missing+=(iproute2)    # network namespaces of the fault campaign
command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)  # Kafka's Java client and tools
command -v mvn >/dev/null || missing+=(maven)
# The Go clients (compat-tests/go) need Go 1.26 (franz-go 1.22, Sarama 1.61): the
# machine's own; Debian's golang-go is only a fallback and may be too old for them.
command -v go >/dev/null || missing+=(golang-go)
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || missing+=(libcurl4-openssl-dev)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  stage "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

venv="$root/target/compat-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r compat-tests/requirements.txt

stage "format, lints, build and unit tests"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo build --locked
cargo test --locked

export GREGOR_BIN="$root/target/debug/gregor"

# The last two stages' builds (the rdkafka tests, with librdkafka compiled
# from source, and the fuzz targets: about 6 minutes of both cores) run
# meanwhile at idle CPU and I/O priority, so they take only what the
# suites leave unused and never slow a broker under test.
idle() {
  if chrt -i 0 ionice -c3 true 2>/dev/null; then chrt -i 0 ionice -c3 "$@"
  elif chrt -i 0 true 2>/dev/null; then chrt -i 0 "$@"
  else nice -n 19 "$@"
  fi
}
background_log="$root/target/background-builds.log"
fuzz_build_flags="--dev -s none"  # unoptimised, no sanitizer: a short build
(
  set -e
  built_from=$SECONDS
  (cd compat-tests/rust && CARGO_TARGET_DIR="$root/target/rdkafka" idle cargo test --locked --no-run)
  FUZZ_BUILD_FLAGS="$fuzz_build_flags" idle bash benches/fuzz.sh --build-only
  echo "background builds: done in $((SECONDS - built_from)) s"
) >"$background_log" 2>&1 &
background=$!

# The JUnit suite (compat-tests/java/src/test) drives Kafka's Java client
# against the debug binary built above; `package` then builds the jar and
# target/classpath.txt that compat-tests/python/java_client.py runs.
stage "Java client: JUnit tests against gregor, then the harness jar (Maven: kafka-clients, kafka-streams and kafka-tools 4.4.0)"
junit_started=$SECONDS
GREGOR_BIN="${GREGOR_BIN:-$PWD/target/debug/gregor}" mvn -B -ntp -f compat-tests/java/pom.xml package
echo "== JUnit tests and jar (compat-tests/java) took $((SECONDS - junit_started)) s"

stage "Go client harness (franz-go, Sarama, kafka-go): modules and build"
(cd compat-tests/go && go mod download && go build -buildvcs=false -o bin/gregor-go-client .)

stage "compat: kcat, confluent-kafka-python, kafka-python, aiokafka, the Java client, Kafka's tools and the Go clients"
"$venv/bin/python" -m pytest compat-tests/python

# results_plugin.py wrote every test's outcome to target/compat-results.json:
# print the client × feature table, and fail on a test or test file the
# mapping does not cover, or on a ✓ in docs/compatibility.md this run does not back.
stage "client × feature table (compat-tests/feature_table.py)"
"$venv/bin/python" compat-tests/feature_table.py --check-files --check-mapping \
  --check docs/compatibility.md --print

# The test helpers users install (issue 13): each runs its own examples
# against the debug binary — the pytest plugin (installed into the venv),
# the JUnit 5 extension (Maven) and the Go package (franz-go examples).
stage "test helpers: pytest plugin, JUnit 5 extension, Go package (testkits/)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check ./testkits/python
"$venv/bin/python" -m pytest testkits/python/examples testkits/python/tests -q -p no:cacheprovider
mvn -B -ntp -f testkits/java/pom.xml verify
(cd testkits/go && go mod download && go vet ./... && go test ./...)

stage "waiting for the background builds (rdkafka tests, fuzz targets)"
if ! wait "$background"; then
  background=""
  cat "$background_log"
  exit 1
fi
background=""
tail -n 1 "$background_log"

stage "compat: Rust rdkafka crate"
(cd compat-tests/rust && CARGO_TARGET_DIR="$root/target/rdkafka" cargo test --locked)

# Runs each cargo-fuzz target (built above: nightly, unoptimised and without
# a sanitizer) for a few seconds from its seed corpus. benches/fuzz.sh
# installs cargo-fuzz (and nightly, if missing) itself.
stage "fuzz smoke: every cargo-fuzz target for ${FUZZ_SMOKE_SECONDS:-3} s"
FUZZ_BUILD_FLAGS="$fuzz_build_flags" FUZZ_NICE=0 FUZZ_SEED=1 bash benches/fuzz.sh "${FUZZ_SMOKE_SECONDS:-3}"
stage "done"
