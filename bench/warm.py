#!/usr/bin/env python3
"""Fills the metadata cache of a catalogue server: index.json and one {version}.json of each
of PROVIDERS providers that make_catalog.py wrote, over one kept-alive HTTPS connection
(loopback only, certificate not checked). Every answer must be a 200. Prints the requests
made.

  warm.py HOST PORT PROVIDERS VERSIONS"""
import http.client
import ssl
import sys


def main():
    host, port, providers, versions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
    n = 0
    for p in range(providers):
        for path in (f"index.json", f"1.0.{p % versions}.json"):
            conn.request("GET", f"/registry.terraform.io/bench/p{p}/{path}")
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                sys.exit(f"p{p}/{path}: {answer.status}")
            n += 1
    print(n)


if __name__ == "__main__":
    main()
