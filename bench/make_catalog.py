#!/usr/bin/env python3
"""Writes SQL that stores PROVIDERS x VERSIONS x PLATFORMS packages straight into a migrated
tfmirror database, for the catalogue-scale benchmarks: one text that SQLite and PostgreSQL
both accept. The rows point at no blob; only metadata documents are measured.

  make_catalog.py PROVIDERS VERSIONS [PLATFORMS=1]   (at most 8 platforms)"""
import hashlib
import sys

providers, versions = int(sys.argv[1]), int(sys.argv[2])
platforms = int(sys.argv[3]) if len(sys.argv) > 3 else 1
PLATFORMS = [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"),
             ("windows", "amd64"), ("linux", "386"), ("freebsd", "amd64"), ("linux", "arm")]
assert 1 <= platforms <= len(PLATFORMS), "1 to 8 platforms"
out = sys.stdout
pid = vid = kid = 0
BATCH = 500


def flush(table, cols, rows):
    for i in range(0, len(rows), BATCH):
        out.write(f"INSERT INTO {table} ({cols}) VALUES\n")
        out.write(",\n".join(rows[i:i + BATCH]))
        out.write(";\n")


prov, vers, pkgs = [], [], []
for p in range(providers):
    pid += 1
    prov.append(f"({pid}, 'registry.terraform.io', 'bench', 'p{p}')")
    for v in range(versions):
        vid += 1
        vers.append(f"({vid}, {pid}, '1.0.{v}')")
        for os_, arch in PLATFORMS[:platforms]:
            kid += 1
            # The first platform keeps the names earlier runs used.
            seed = f"p{p}-{v}" if (os_, arch) == PLATFORMS[0] else f"p{p}-{v}-{os_}_{arch}"
            sha = hashlib.sha256(seed.encode()).hexdigest()
            name = f"terraform-provider-p{p}_1.0.{v}_{os_}_{arch}.zip"
            pkgs.append(f"({kid}, {vid}, '{os_}', '{arch}', '{name}', 1000, '{sha}', "
                        f"'h1:{sha[:43]}=', 'sha256/{sha[:2]}/{sha}.zip', 'import')")
out.write("BEGIN;\n")
flush("providers", "id, hostname, namespace, type", prov)
flush("provider_versions", "id, provider_id, version", vers)
flush("packages", "id, version_id, os, arch, filename, size_bytes, sha256, h1, storage_key, source", pkgs)
out.write("COMMIT;\n")
