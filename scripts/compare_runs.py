#!/usr/bin/env python3
"""Compares two `gpunet run` output folders file by file, leaving out what measures time.

Usage: python3 scripts/compare_runs.py A B

Every file of A is compared with the file of the same name in B: byte for byte, or, where the bytes differ,
JSON without its timing keys (seconds, microseconds, ...) and markdown without the lines that state a time, with
each folder's own path read as <folder>.
Timing files (timing.csv, timing.json) and logs are left out. Prints the counts and the files that differ;
exit code 1 when any differs or is missing. Run both from the same checkout: a run's config records the data folder's
path. docs/verdicts.md uses it on runs of the AVX2 and AVX-512 paths.
"""
import json
import os
import re
import signal
import sys

TIMING_KEY = re.compile(r"second|microsecond|_ms$|timing|time|eta|per_image|throughput", re.I)
TIMING_LINE = re.compile(r"\d s\b|\d s[,;]|min \d|µs|/s\b|seconds")


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if not TIMING_KEY.search(k)}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def same(name, x, y):
    if x == y:
        return True
    if name.endswith(".json"):
        return without_timing(json.loads(x)) == without_timing(json.loads(y))
    if name.endswith(".md"):
        keep = lambda text: [l for l in text.decode().splitlines() if not TIMING_LINE.search(l)]
        return keep(x) == keep(y)
    return False


def own_path(data, folder):
    """A report that names its own folder (`gpunet table --out FOLDER`) names it as <folder>."""
    for spelling in sorted({folder.rstrip("/"), os.path.abspath(folder)}, key=len, reverse=True):
        data = data.replace(spelling.encode(), b"<folder>")
    return data


def main(a, b):
    compared = identical = 0
    differ = []
    for root, _, names in os.walk(a):
        for name in sorted(names):
            if "timing" in name or name.endswith(".log"):
                continue
            rel = os.path.relpath(os.path.join(root, name), a)
            compared += 1
            other = os.path.join(b, rel)
            if not os.path.exists(other):
                differ.append(rel + " (missing in B)")
                continue
            with open(os.path.join(a, rel), "rb") as fa, open(other, "rb") as fb:
                if same(name, own_path(fa.read(), a), own_path(fb.read(), b)):
                    identical += 1
                else:
                    differ.append(rel)
    print(f"{compared} files compared (timing files and logs left out): {identical} identical apart from timings, {len(differ)} differ")
    for rel in differ:
        print("differs:", rel)
    return 1 if differ else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # piped into head: stop quietly
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
