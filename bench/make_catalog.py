#!/usr/bin/env python3
"""Writes SQL that stores PROVIDERS x VERSIONS packages (one platform each) straight into a
migrated tfmirror database, for the catalogue-scale benchmark: one text that SQLite and
PostgreSQL both accept. The rows point at no blob; only metadata documents are measured."""
import hashlib
import sys

providers, versions = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
pid = vid = 0
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
        sha = hashlib.sha256(f"p{p}-{v}".encode()).hexdigest()
        name = f"terraform-provider-p{p}_1.0.{v}_linux_amd64.zip"
        pkgs.append(f"({vid}, {vid}, 'linux', 'amd64', '{name}', 1000, '{sha}', "
                    f"'h1:{sha[:43]}=', 'sha256/{sha[:2]}/{sha}.zip', 'import')")
out.write("BEGIN;\n")
flush("providers", "id, hostname, namespace, type", prov)
flush("provider_versions", "id, provider_id, version", vers)
flush("packages", "id, version_id, os, arch, filename, size_bytes, sha256, h1, storage_key, source", pkgs)
out.write("COMMIT;\n")
