#!/usr/bin/env bash
# One MLP training epoch on GpuNet's host engine and in PyTorch, in one run; prints the time ratio per batch size.
# Usage: bash bench/peers/epoch_ratio.sh [BATCHES] [EPOCHS]   (defaults: "64 256" and 3)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
batches="${1:-64 256}"
epochs="${2:-3}"
py=/usr/bin/python3
for b in $batches; do
  g=$("$root/gpunet" bench epoch --device cpu --batch "$b" --epochs "$epochs" | tee /dev/stderr | tail -n 1 | awk '{print $(NF-1)}')
  t=$("$py" "$root/bench/peers/mlp_epoch.py" --batch "$b" --epochs "$epochs" | tee /dev/stderr | tail -n 1 | awk '{print $(NF-1)}')
  awk -v b="$b" -v g="$g" -v t="$t" 'BEGIN { printf "batch %s: gpunet %.3f s, torch %.3f s, gpunet/torch time %.2f (below 1: GpuNet is faster)\n", b, g, t, g / t }'
done
