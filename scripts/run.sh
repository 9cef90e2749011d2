#!/usr/bin/env bash
# The README's run command: builds the admin UI when npm is available (the server embeds
# web/dist; without it, /ui/ says how to build it), then runs the server on its embedded
# defaults: SQLite and blobs under ./data, HTTPS with a generated local CA. Extra arguments
# go to `tfmirror serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v npm >/dev/null; then
  (cd web && npm ci --no-audit --no-fund && npm run build)
else
  echo "npm not found: serving without the admin UI (the mirror and the API work)" >&2
fi
exec cargo run --release -- serve --self-signed-tls "$@"
