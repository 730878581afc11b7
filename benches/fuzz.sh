#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a time budget, one target at a
# time, and prints each target's executions and the total.
#
#   benches/fuzz.sh SECONDS [TARGET...]    SECONDS per target (default 60),
#                                          all targets unless some are named
#   benches/fuzz.sh --build-only           builds every target, runs none
#
# Environment:
#   FUZZ_RSS_LIMIT_MB  libFuzzer's -rss_limit_mb (default 2048): more is an OOM
#   FUZZ_TIMEOUT_S     libFuzzer's -timeout (default 10): a slower input is a hang
#   FUZZ_BUILD_FLAGS   flags for `cargo fuzz build` (default "-O -a": optimised,
#                      with debug assertions, overflow checks and AddressSanitizer;
#                      -O alone turns the assertions and overflow checks off)
#   FUZZ_NICE          niceness of the fuzzing processes (default 10)
#   FUZZ_SEED          libFuzzer's -seed (default: a random one per run)
#
# The corpus grows in fuzz/corpus/<target> (not committed), seeded from the
# committed fuzz/seeds/<target>; a crash, hang or OOM is saved in
# fuzz/artifacts/<target>/ and makes the script fail after the last target.
# Reproduce one with: fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

build_only=false
if [ "${1:-}" = "--build-only" ]; then
  build_only=true
  shift
fi
budget="${1:-60}"
shift || true
rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}"
timeout_s="${FUZZ_TIMEOUT_S:-10}"
build_flags="${FUZZ_BUILD_FLAGS:--O -a}"
niceness="${FUZZ_NICE:-10}"
seed_flag=()
[ -n "${FUZZ_SEED:-}" ] && seed_flag=(-seed="$FUZZ_SEED")
started=$SECONDS

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# The targets that fuzz files write them to $TMPDIR: memory, where there is some.
scratch=$(mktemp -d -p "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")" gregor-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# One build makes every target.
# shellcheck disable=SC2086 # the flags are words
nice -n "$niceness" cargo +nightly fuzz build $build_flags >"$scratch/build.log" 2>&1 \
  || { cat "$scratch/build.log"; exit 1; }
case " $build_flags " in
  *" --dev "* | *" -D "*) profile=debug ;;
  *) profile=release ;;
esac
bin_dir="target/x86_64-unknown-linux-gnu/$profile"
echo "fuzz: built ${#targets[@]} targets in $((SECONDS - started)) s ($build_flags)"
$build_only && exit 0

total=0
failed=()
printf '%-26s %14s %10s %8s  %s\n' target executions exec/s corpus result
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target" "seeds/$target"
  log="$scratch/$target.log"
  status=0
  TMPDIR="$scratch" nice -n "$niceness" "$bin_dir/$target" \
    -max_total_time="$budget" -rss_limit_mb="$rss_limit_mb" -timeout="$timeout_s" \
    -print_final_stats=1 -artifact_prefix="artifacts/$target/" "${seed_flag[@]}" \
    "corpus/$target" "seeds/$target" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  runs=${runs:-0}
  corpus=$(find "corpus/$target" -type f | wc -l)
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FAILED ($(grep -m1 -oE 'ERROR: libFuzzer: [a-z -]+|panicked at [^ ]+' "$log" || echo "exit $status"))"
    failed+=("$target")
    tail -40 "$log"
  fi
  total=$((total + runs))
  printf '%-26s %14d %10d %8d  %s\n' "$target" "$runs" $((runs / budget)) "$corpus" "$result"
done
echo "fuzz: $total executions in total over ${#targets[@]} targets, ${budget} s each, $((SECONDS - started)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
