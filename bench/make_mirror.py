#!/usr/bin/env python3
"""Writes a `terraform providers mirror`-style directory for the benchmark:
registry.terraform.io/hashicorp/big/{index.json, 1.0.0.json, the archive} with one archive of
SIZE_MB megabytes of incompressible data, plus hashicorp/small with a few platforms. The h1
hashes are computed here, independently of tfmirror."""
import base64
import hashlib
import json
import os
import sys
import zipfile


def h1(path):
    lines = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            digest = hashlib.sha256()
            with z.open(info) as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            lines.append((info.filename, digest.hexdigest()))
    lines.sort()
    summary = "".join(f"{d}  {n}\n" for n, d in lines).encode()
    return "h1:" + base64.b64encode(hashlib.sha256(summary).digest()).decode()


def write_random_zip(path, entry, size):
    """One stored (not deflated) entry of `size` incompressible bytes; kept if it exists."""
    if os.path.exists(path):
        return
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        with z.open(entry, "w", force_zip64=True) as f:
            left = size
            while left > 0:
                n = min(left, 1 << 20)
                f.write(os.urandom(n))
                left -= n


def provider(root, ptype, version, platforms, size):
    d = os.path.join(root, "registry.terraform.io", "hashicorp", ptype)
    os.makedirs(d, exist_ok=True)
    archives = {}
    for plat in platforms:
        name = f"terraform-provider-{ptype}_{version}_{plat}.zip"
        path = os.path.join(d, name)
        write_random_zip(path, f"terraform-provider-{ptype}_v{version}", size)
        archives[plat] = {"url": name, "hashes": [h1(path)]}
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"versions": {version: {}}}, f)
    with open(os.path.join(d, f"{version}.json"), "w") as f:
        json.dump({"archives": archives}, f)


def main():
    root, size_mb = sys.argv[1], int(sys.argv[2])
    provider(root, "big", "1.0.0", ["linux_amd64"], size_mb << 20)
    provider(root, "small", "2.0.0", ["linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64"], 4096)


if __name__ == "__main__":
    main()
