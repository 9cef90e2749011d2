#!/usr/bin/env bash
# The one command that runs every check and test (the README's test command; .ci/run calls it).
# Installs what the tests need (into .tools/, web/node_modules, and Debian's chromium and,
# when missing, PostgreSQL), builds and unit-tests the web UI, starts a throwaway SeaweedFS S3
# server and a PostgreSQL server on loopback, runs fmt, clippy, the Helm checks, every fuzz
# target for 20 s and the whole nextest suite on SQLite and again on PostgreSQL, and stops
# the servers by their PIDs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-tools.sh

# The admin UI: Chromium for the browser tests, the npm packages, the production build
# (its size report is printed) and the Vitest unit tests. The Rust suite then serves
# web/dist and drives it in headless Chromium (tests/ui_e2e.rs, tests/ui_bundles.rs).
if [ ! -x /usr/bin/chromium ]; then
  echo "== apt-get install chromium"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
# check:api fails when web/src/api/schema.d.ts is not what `npm run gen:api` makes of
# src/http/openapi.yaml.
echo "== web: npm ci, API types current, build, unit tests"
(cd web && npm ci --no-audit --no-fund && npm run check:api && npm run build && npm test)

S3_PORT=${TFM_TEST_S3_PORT:-18333}
S3_DIR=$(mktemp -d "$PWD/.tools/s3run.XXXXXX")
S3_PID=$(scripts/s3-server.sh "$S3_DIR")
# A throwaway PostgreSQL server on loopback for the suite's second pass (installed with apt
# when its binaries are missing; a server that does not start fails the run).
PG_PORT=${TFM_TEST_PG_PORT:-15432}
PG_DIR=$(mktemp -d /tmp/tfmirror-pg.XXXXXX)
PG_PID=""
cleanup() {
  kill "$S3_PID" 2>/dev/null || true
  if [ -n "$PG_PID" ]; then kill -INT "$PG_PID" 2>/dev/null || true; fi
  for _ in $(seq 1 100); do
    alive=0
    kill -0 "$S3_PID" 2>/dev/null && alive=1
    if [ -n "$PG_PID" ] && kill -0 "$PG_PID" 2>/dev/null; then alive=1; fi
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  rm -rf "$S3_DIR" "$PG_DIR"
}
trap cleanup EXIT
echo "== PostgreSQL on 127.0.0.1:$PG_PORT"
PG_PID=$(scripts/pg-server.sh "$PG_DIR" "$PG_PORT")
export TFM_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export TFM_TEST_PG_SERVER="postgres://postgres@127.0.0.1:$PG_PORT"

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
# The Helm chart, rendered and validated without a cluster (helm-python-sdk and
# kubernetes-validate from PyPI, in .tools/helm-venv); every rendered configuration goes
# through `tfmirror check-config`.
# One debug build serves the Helm checks and the suite: the test build (dev-dependencies
# change some crates' features) also links the binary that check-helm.sh runs, so the binary
# alone is never built with a second feature set.
echo "== cargo nextest run --no-run"
cargo nextest run --locked --no-run
TARGET_DIR=$(cargo metadata --locked --no-deps --format-version 1 \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
echo "== helm chart checks"
TFM_BIN="$TARGET_DIR/debug/tfmirror" scripts/check-helm.sh
# Every fuzz target for a bounded time (README, "Fuzzing"); a fuzzing build compiles only the
# parsers (src/lib.rs), so this adds about 5 minutes.
echo "== fuzz (${TFM_FUZZ_SECONDS:-20} s per target)"
scripts/fuzz.sh "${TFM_FUZZ_SECONDS:-20}"
# The suite runs twice: on SQLite, then with every test server on its own PostgreSQL
# database (tests/it/common: TFM_TEST_BACKEND=postgres). Tests only PostgreSQL has
# (tests/it/postgres/: several replicas, copy-db) run in the second pass only. Both passes
# always run.
status=0
echo "== cargo nextest (SQLite)"
cargo nextest run --locked --no-fail-fast -E 'not test(/^postgres::/)' || status=1
echo "== cargo nextest (PostgreSQL)"
TFM_TEST_BACKEND=postgres cargo nextest run --locked --no-fail-fast || status=1
exit $status
