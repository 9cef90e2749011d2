#!/usr/bin/env python3
"""Starts `tfmirror serve` and measures how long it takes to be ready: from the exec to the
first 200 from /readyz (polled every 5 ms over HTTPS, certificate not checked: loopback only),
bounded by 30 s. Prints "SECONDS PID" and leaves the server running (the caller stops it by
its PID).

  ready.py URL LOG -- tfmirror ARGS..."""
import http.client
import ssl
import subprocess
import sys
import time
import urllib.parse


def main():
    url, log = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    target = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with open(log, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = start + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode} before it was ready; see {log}")
        try:
            conn = http.client.HTTPSConnection(target.hostname, target.port, context=ctx, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                print(f"{time.monotonic() - start:.3f} {proc.pid}")
                return
        except OSError:
            pass
        time.sleep(0.005)
    proc.kill()
    sys.exit(f"not ready within 30 s; see {log}")


if __name__ == "__main__":
    main()
