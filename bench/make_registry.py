#!/usr/bin/env python3
"""Writes a static Provider Registry Protocol tree for the ingest benchmark, to be served by
nginx: discovery, versions, download info, archives, SHA256SUMS and a detached signature
made with GnuPG. Usage: make_registry.py ROOT BASE_URL COUNT SIZE_MB GNUPGHOME KEY_ID"""
import hashlib
import json
import os
import subprocess
import sys

from make_mirror import write_random_zip


def main():
    root, base, count, size_mb, gnupghome, key_id = sys.argv[1:7]
    count, size = int(count), int(size_mb) << 20
    env = dict(os.environ, GNUPGHOME=gnupghome)
    armor = subprocess.run(["gpg", "--batch", "--armor", "--export", key_id], env=env,
                           check=True, capture_output=True, text=True).stdout
    prov = os.path.join(root, "v1", "providers", "hashicorp", "bench")
    files = os.path.join(root, "files")
    os.makedirs(files, exist_ok=True)
    os.makedirs(os.path.join(root, ".well-known"), exist_ok=True)
    with open(os.path.join(root, ".well-known", "terraform.json"), "w") as f:
        json.dump({"providers.v1": "/v1/providers/"}, f)
    versions = []
    for i in range(count):
        version = f"1.0.{i}"
        name = f"terraform-provider-bench_{version}_linux_amd64.zip"
        path = os.path.join(files, name)
        write_random_zip(path, f"terraform-provider-bench_v{version}", size)
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        shasum = digest.hexdigest()
        sums = os.path.join(files, f"terraform-provider-bench_{version}_SHA256SUMS")
        with open(sums, "w") as fh:
            fh.write(f"{shasum}  {name}\n")
        if os.path.exists(sums + ".sig"):
            os.remove(sums + ".sig")
        subprocess.run(["gpg", "--batch", "--yes", "--local-user", key_id, "--detach-sign",
                        "--output", sums + ".sig", sums], env=env, check=True)
        dl = os.path.join(prov, version, "download", "linux")
        os.makedirs(dl, exist_ok=True)
        with open(os.path.join(dl, "amd64"), "w") as fh:
            json.dump({
                "protocols": ["5.0"], "os": "linux", "arch": "amd64", "filename": name,
                "download_url": f"{base}/files/{name}",
                "shasums_url": f"{base}/files/{os.path.basename(sums)}",
                "shasums_signature_url": f"{base}/files/{os.path.basename(sums)}.sig",
                "shasum": shasum,
                "signing_keys": {"gpg_public_keys": [{"key_id": key_id, "ascii_armor": armor}]},
            }, fh)
        versions.append({"version": version, "protocols": ["5.0"],
                         "platforms": [{"os": "linux", "arch": "amd64"}]})
    with open(os.path.join(prov, "versions"), "w") as fh:
        json.dump({"versions": versions}, fh)


if __name__ == "__main__":
    main()
