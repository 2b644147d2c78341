#!/usr/bin/env bash
# `gpunet run knn` on the host engine and scikit-learn's brute-force k-NN (bench/peers/knn.py) on the same data, one
# after the other; prints the time ratio per metric and the test-accuracy differences at k = 1, 5 and 9.
# Usage: bash bench/peers/knn_ratio.sh [--data DIR] [--test N]
#   --data DIR  the Fashion-MNIST folder (default: $GPUNET_DATA, else data/fashion-mnist)
#   --test N    scikit-learn classifies only the first N test images and its time is scaled by 10,000/N (its L1 search
#               takes minutes on two cores); the accuracies are then not compared. The target is measured without it.
# Needs Debian's python3-sklearn with libopenblas0-pthread (see bench/peers/README.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${GPUNET_DATA:-$root/data/fashion-mnist}"
test=0
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --test) test="$2"; shift 2 ;;
    *) echo "usage: $0 [--data DIR] [--test N]" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

"$root/gpunet" --help >/dev/null # build once, outside the timings
start=$(date +%s.%N)
"$root/gpunet" run knn --device cpu --data "$data" --out "$out/run" | sed -u 's/^/gpunet: /'
end=$(date +%s.%N)
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" "$root/bench/peers/knn.py" --data "$data" --test "$test" | tee "$out/peer.txt" | grep --line-buffered -v '^json '

"$py" - "$out/run/summary.json" "$out/peer.txt" "$start" "$end" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
peer = json.loads(next(l for l in open(sys.argv[2]) if l.startswith("json "))[5:])
wall = float(sys.argv[4]) - float(sys.argv[3])
scale = summary["test_images"] / peer["test_images"]
note = "" if scale == 1 else f" (scikit-learn ran {peer['test_images']} test images; its time is scaled by {scale:.1f})"
print()
print(f"# time of the test search, {summary['test_images']} x {summary['reference_images']}, top-{summary['k_max']}{note}")
print(f"{'metric':8}{'gpunet s':>10}{'(dist':>8}{'+ top-k)':>9}{'sklearn s':>11}{'gpunet/sklearn':>16}")
total_g = total_p = 0.0
for metric, t in summary["timings"].items():
    if metric not in peer["timings"]:
        continue
    g = t["test_search_seconds"]
    p = peer["timings"][metric]["kneighbors_seconds"] * scale
    total_g += g
    total_p += p
    print(f"{metric:8}{g:10.2f}{t['test_distance_seconds']:8.2f}{t['test_topk_seconds']:9.2f}{p:11.2f}{g / p:16.3f}")
print(f"{'both':8}{total_g:10.2f}{'':17}{total_p:11.2f}{total_g / total_p:16.3f}   (below 1: GpuNet is faster)")
print(f"# the whole `gpunet run knn` (data, both metrics, leave-one-out searches, votes, report) took {wall:.1f} s")
if scale != 1:
    print("# accuracies not compared: scikit-learn classified a subset of the test images")
    sys.exit(0)
ours = {(r["metric"], r["weights"], r["k"]): 1 - r["test_error"] for r in summary["results"]}
print()
print("# test accuracy, gpunet vs scikit-learn (difference in percentage points)")
for r in peer["results"]:
    key = (r["metric"], r["weights"], r["k"])
    if r["k"] in (1, 5, 9) and key in ours:
        a, b = ours[key], r["test_accuracy"]
        print(f"{r['metric']:3} {r['weights']:9} k={r['k']:<2} gpunet {a * 100:6.2f}%  sklearn {b * 100:6.2f}%  diff {(a - b) * 100:+.2f} pp")
EOF
