#!/usr/bin/env python3
"""Reads load-generator output for the benchmarks, so every script reports the same figures.

  loadstat.py wrk FILE    -> "rps p50_ms p90_ms p99_ms bytes_per_s"   (wrk --latency)
  loadstat.py curl FILE SECONDS -> the same, from `curl --parallel -w '%{time_total}
                             %{http_code}\n'` lines that took SECONDS in all (used for HEAD:
                             wrk cannot parse the answer to a HEAD that has a
                             Content-Length); every answer must be a 200
  loadstat.py median FILE -> the median of each column of such lines, one line

A run that completed no request prints zeros, never a made-up figure."""
import re
import statistics
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
SIZES = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * UNITS[m.group(2)] if m else 0.0


def wrk(text):
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    tput = re.search(r"^Transfer/sec:\s+([0-9.]+)([KMGT]?B)", text, re.M)
    pct = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M))
    return [
        float(rps.group(1)) if rps else 0.0,
        ms(pct.get("50", "0ms")),
        ms(pct.get("90", "0ms")),
        ms(pct.get("99", "0ms")),
        float(tput.group(1)) * SIZES[tput.group(2)] if tput else 0.0,
    ]


def curl(text, seconds):
    rows = [l.split() for l in text.splitlines() if l.strip()]
    bad = [r for r in rows if r[1] != "200"]
    if bad:
        sys.exit(f"{len(bad)} of {len(rows)} answers were not 200 (first: {bad[0][1]})")
    times = sorted(float(r[0]) * 1000 for r in rows)
    if not times:
        return [0.0] * 5
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    return [len(times) / float(seconds), pick(0.5), pick(0.9), pick(0.99), 0.0]


def median(lines):
    rows = [[float(x) for x in l.split()] for l in lines if l.strip()]
    return [statistics.median(col) for col in zip(*rows)]


def main():
    mode, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        text = f.read()
    if mode == "median":
        values = median(text.splitlines())
    elif mode == "curl":
        values = curl(text, sys.argv[3])
    else:
        values = wrk(text)
    print(" ".join(f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main()
