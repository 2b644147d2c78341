#!/usr/bin/env python3
"""Helpers of scripts/gpu-check.sh (standard library only).

  gpu_table.py shapes CHECK_JSON
      Prints, as shell assignments, the shapes `gpunet check` timed, so the PyTorch peers time the same ones:
      gemm_sizes (for gemm.py --sizes), epoch_batches and epoch_samples (mlp_epoch.py), knn_queries, knn_references,
      knn_k (knn_torch.py). Shapes check.json does not have (a check stopped early) get the full check's defaults.

  gpu_table.py table --check CHECK_JSON --out TABLE_MD PEER_OUTPUT...
      Joins the GpuNet timings of check.json with the peers' output lines (gemm.py, mlp_epoch.py, knn_torch.py, run with
      --device cuda) into one markdown table with the GpuNet/PyTorch ratio of each, and prints it.
"""
import argparse
import datetime
import json
import os
import re
import sys

DEFAULT_GEMM = "1024,2048,4096,8192,mlp64,mlp256"
DEFAULT_BATCHES = [64, 256, 1024]
DEFAULT_SAMPLES = 60000
DEFAULT_KNN = (10000, 60000, 201)


def load_check(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"gpu_table.py: cannot read {path}: {e}", file=sys.stderr)
        return None


def timings(check, name):
    return [t for t in (check or {}).get("timings", []) if t.get("name") == name]


def shapes(args):
    check = load_check(args.check_json)
    gemm = [t["shape"] for t in timings(check, "gemm") if re.fullmatch(r"\d+x\d+x\d+(:[NT]{2})?", t["shape"])]
    batches, samples = [], DEFAULT_SAMPLES
    for t in timings(check, "epoch"):
        m = re.fullmatch(r"batch=(\d+) samples=(\d+)", t["shape"])
        if m:
            batches.append(int(m.group(1)))
            samples = int(m.group(2))
    knn = DEFAULT_KNN
    for t in timings(check, "knn-search"):
        m = re.fullmatch(r"l[12] (\d+)x(\d+)x\d+ k=(\d+)", t["shape"])
        if m:
            knn = tuple(int(g) for g in m.groups())
    print(f"gemm_sizes='{','.join(gemm) if gemm else DEFAULT_GEMM}'")
    print(f"epoch_batches='{' '.join(str(b) for b in (batches or DEFAULT_BATCHES))}'")
    print(f"epoch_samples={samples}")
    print(f"knn_queries={knn[0]}\nknn_references={knn[1]}\nknn_k={knn[2]}")


def read_peers(paths):
    """(name, shape) -> (value, unit) from the peers' result lines, and their '#' header lines."""
    values, headers = {}, []
    for path in paths:
        if not os.path.exists(path):
            continue
        for line in open(path, errors="replace"):
            line = line.strip()
            if line.startswith("#"):
                headers.append(line.lstrip("# "))
                continue
            m = re.fullmatch(r"gemm (\S+) +torch(?:-cuda)? +[\d.]+ ms +([\d.]+) GFLOP/s", line)
            if m:
                values[("gemm", m.group(1))] = (float(m.group(2)), "GFLOP/s")
                continue
            m = re.fullmatch(r"epoch mlp batch=(\d+) torch(?:-cuda)? median ([\d.]+) s/epoch", line)
            if m:
                values[("epoch", f"batch={m.group(1)}")] = (float(m.group(2)), "s")
                continue
            m = re.fullmatch(r"knn-search (l[12] \d+x\d+x\d+ k=\d+) torch(?:-cuda)? ([\d.]+) s", line)
            if m:
                values[("knn-search", m.group(1))] = (float(m.group(2)), "s")
    return values, headers


def number(v):
    if v is None:
        return "-"
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"


def table(args):
    check = load_check(args.check)
    peers, headers = read_peers(args.peers)
    device = (check or {}).get("device", {})
    lines = [f"# GpuNet vs PyTorch on {device.get('name', 'an unknown device')}", ""]
    if check is None:
        lines += ["**gpunet check wrote no check.json**: no GpuNet numbers (see check.log).", ""]
    else:
        rows = check.get("comparisons", [])
        failed = [r for r in rows if not r.get("pass")]
        verdict = (f"PASS: all {len(rows)} comparisons with the host engine within tolerance" if rows and not failed
                   else f"FAIL: {len(failed)} of {len(rows)} comparisons outside tolerance "
                        f"({', '.join(sorted({r['op'] for r in failed}))})" if rows else "no comparison finished")
        if not check.get("finished"):
            verdict += "; the check did not finish (stopped by its time limit?), so some timings are missing"
        lines += [f"**gpunet check: {verdict}** (details: check.md)", ""]
    lines += [
        "| | |", "|---|---|",
        f"| date | {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} |",
        f"| device | `{device.get('spec', '?')}` {device.get('name', '?')} |",
        f"| driver | {device.get('driver', '?')} |",
        f"| GpuNet | {(check or {}).get('gpunet', '?')}, ILGPU {(check or {}).get('ilgpu', '?')}, {(check or {}).get('runtime', '?')} |",
    ]
    # The peers' first '#' lines name their libraries, device and versions; what follows a ':' is the workload.
    versions = (h.removeprefix("peers: ").split(":")[0].strip() for h in headers if h.startswith(("peers:", "torch ")))
    for h in dict.fromkeys(versions):
        lines.append(f"| peer | {h} |")
    lines += ["", "Ratio = GpuNet / PyTorch of the same quantity on the same GPU in the same session. For GFLOP/s above 1 "
                  "means GpuNet is faster; for seconds below 1 means GpuNet is faster. PyTorch: `torch.mm` with TF32 off "
                  "(cuBLAS FP32), the same MLP epoch, `torch.cdist` + `topk`.", ""]
    lines += ["| what | shape | GpuNet | PyTorch | unit | GpuNet/PyTorch | GpuNet faster when |",
              "|---|---|---:|---:|---|---:|---|"]
    seen = set()
    for t in (check or {}).get("timings", []):
        name, shape, value, unit = t["name"], t["shape"], t.get("value"), t["unit"]
        key_shape = re.sub(r" samples=\d+", "", shape) if name == "epoch" else shape
        peer = peers.get((name, key_shape))
        seen.add((name, key_shape))
        ratio = value / peer[0] if peer and value and peer[0] else None
        better = {"GFLOP/s": "above 1", "s": "below 1"}.get(unit, "")
        lines.append(f"| {name} | {shape} | {number(value)} | {number(peer[0]) if peer else '-'} | {unit} | "
                     f"{f'{ratio:.3f}' if ratio else '-'} | {better if peer else ''} |")
    for (name, shape), (value, unit) in peers.items():
        if (name, shape) not in seen:
            lines.append(f"| {name} | {shape} | - | {number(value)} | {unit} | - | |")
    for note in (check or {}).get("timing_notes", []):
        lines.append(f"\n- {note}")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("shapes")
    s.add_argument("check_json")
    t = sub.add_parser("table")
    t.add_argument("--check", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("peers", nargs="*")
    args = ap.parse_args()
    shapes(args) if args.command == "shapes" else table(args)


if __name__ == "__main__":
    main()
