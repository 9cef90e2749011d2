#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (README, "Fuzzing").
#
#   scripts/fuzz.sh [SECONDS]     # SECONDS per target, default 30; e.g. 3600 for a long run
#
# Installs cargo-fuzz if it is missing (into cargo's bin directory), builds all targets once,
# then runs each for SECONDS from the committed seeds (fuzz/corpus/TARGET, only read) plus a
# temporary working corpus (deleted at the end, so the repository stays clean). Fails when a
# target finds a crash, a timeout or an out-of-memory input, printing the reproducer, which
# libFuzzer saves under fuzz/artifacts/TARGET/ (git-ignored).
#
# Environment: TFM_FUZZ_SANITIZER (default none; "address" for AddressSanitizer, a slower
# build), TFM_FUZZ_KEEP_CORPUS=DIR keeps the working corpora in DIR/TARGET instead.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-30}
case $SECONDS_PER_TARGET in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
CARGO_FUZZ_VERSION=0.13.2
SANITIZER=${TFM_FUZZ_SANITIZER:-none}
# The seed-independent limits of every run: memory, time per input, input size.
RSS_LIMIT_MB=2048
TIMEOUT_PER_INPUT=10
MAX_LEN=65536
# cargo-fuzz passes -Z flags to rustc; the stable compiler accepts them with this.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

BUILD=(--sanitizer "$SANITIZER" --codegen-units 16)
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
# cargo fuzz builds into CARGO_TARGET_DIR when it is set, else fuzz/target.
BIN_DIR=${CARGO_TARGET_DIR:-fuzz/target}/$TRIPLE/release
echo "== cargo fuzz build (sanitizer $SANITIZER)"
build_start=$(date +%s)
cargo fuzz build "${BUILD[@]}"
echo "built in $(($(date +%s) - build_start)) s"

WORK=${TFM_FUZZ_KEEP_CORPUS:-}
if [ -z "$WORK" ]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
failed=0
for target in $(cargo fuzz list); do
  seeds=fuzz/corpus/$target
  artifacts=fuzz/artifacts/$target
  mkdir -p "$WORK/$target" "$artifacts"
  marker=$(mktemp)
  echo "== fuzz $target for ${SECONDS_PER_TARGET}s"
  status=0
  # The working corpus comes first: libFuzzer writes new inputs only to the first directory.
  "$BIN_DIR/$target" "$WORK/$target" "$seeds" \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB" \
    -timeout="$TIMEOUT_PER_INPUT" -max_len="$MAX_LEN" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$WORK/$target.log" 2>&1 || status=$?
  found=$(find "$artifacts" -type f -newer "$marker" ! -name 'slow-unit-*' | sort)
  rm -f "$marker"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$target.log" | tail -n1)
  if [ "$status" -ne 0 ] || [ -n "$found" ]; then
    failed=1
    tail -n 40 "$WORK/$target.log"
    echo "FAILED: $target (exit $status) after ${runs:-?} runs"
    for f in $found; do
      echo "  reproducer: $f"
      echo "  rerun with: $BIN_DIR/$target $f   (or: RUSTC_BOOTSTRAP=1 cargo fuzz run ${BUILD[*]} $target $f)"
    done
  else
    echo "ok: $target, ${runs:-?} runs, working corpus $(find "$WORK/$target" -type f | wc -l) new inputs"
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found problems; keep each reproducer as a unit test (fuzz/README.md)"
  exit 1
fi
echo "fuzzing: all targets ran ${SECONDS_PER_TARGET}s without a finding"
