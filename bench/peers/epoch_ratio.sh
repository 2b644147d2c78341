#!/usr/bin/env bash
# One MLP training epoch on GpuNet's host engine and in PyTorch, in one run; prints the time ratio per batch size.
# Usage: [AVX2_ONLY=1] bash bench/peers/epoch_ratio.sh [BATCHES] [EPOCHS]   (defaults: "64 256" and 3)
# PyTorch runs twice, on 1 thread and on all cores, and its faster time is the one compared: on a small, shared
# machine its OpenMP threads can lose more to waiting than they gain.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
batches="${1:-64 256}"
epochs="${2:-3}"
py=/usr/bin/python3
# AVX2_ONLY=1: both sides on their AVX2 paths on a machine that also has AVX-512 (see gemm_ratio.sh).
if [ "${AVX2_ONLY:-0}" = 1 ]; then
  export DOTNET_EnableAVX512=0
  peer_env=(OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2)
else
  peer_env=()
fi
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${peer_env[@]}" "$py" "$root/bench/peers/mlp_epoch.py" "$@"; }
last() { tee /dev/stderr | tail -n 1 | awk '{print $(NF-1)}'; }
for b in $batches; do
  g=$("$root/gpunet" bench epoch --device cpu --batch "$b" --epochs "$epochs" | last)
  t1=$(peer --batch "$b" --epochs "$epochs" --threads 1 | last)
  tn=$(peer --batch "$b" --epochs "$epochs" | last)
  awk -v b="$b" -v g="$g" -v t1="$t1" -v tn="$tn" 'BEGIN {
    t = (t1 < tn) ? t1 : tn
    printf "batch %s: gpunet %.3f s, torch %.3f s (1 thread %.3f, all cores %.3f), gpunet/torch time %.2f (below 1: GpuNet is faster)\n", b, g, t, t1, tn, g / t }'
done
