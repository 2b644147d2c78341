#!/usr/bin/env bash
# One MLP training epoch on GpuNet's host engine and in PyTorch, in one run; prints the time ratio per batch size.
# Usage: [AVX2_ONLY=1] [ROUNDS=R] bash bench/peers/epoch_ratio.sh [BATCHES] [EPOCHS]   (defaults: "64 256", 3)
# ROUNDS=R (default 1) measures every batch size R times, both sides each time, and prints each round's ratio, then the
# median ratio and its range (as gemm_ratio.sh: the machine's speed drifts between rounds).
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
rounds="${ROUNDS:-1}"
summary=""
for ((r = 1; r <= rounds; r++)); do
  [ "$rounds" = 1 ] || echo "# round $r of $rounds"
  for b in $batches; do
    g=$("$root/gpunet" bench epoch --device cpu --batch "$b" --epochs "$epochs" | last)
    t1=$(peer --batch "$b" --epochs "$epochs" --threads 1 | last)
    tn=$(peer --batch "$b" --epochs "$epochs" | last)
    line=$(awk -v b="$b" -v g="$g" -v t1="$t1" -v tn="$tn" 'BEGIN {
      t = (t1 < tn) ? t1 : tn
      printf "batch %s: gpunet %.3f s, torch %.3f s (1 thread %.3f, all cores %.3f), gpunet/torch time %.2f (below 1: GpuNet is faster)\n", b, g, t, t1, tn, g / t }')
    echo "$line"
    summary+="$line"$'\n'
  done
done
if [ "$rounds" != 1 ]; then
  echo
  echo "# gpunet/torch time per batch size: the median of $rounds rounds [lowest, highest]"
  printf '%s' "$summary" | awk '
    { b = $2; sub(":", "", b); r = $(NF - 5); v[b] = v[b] " " r; if (!(b in seen)) { seen[b] = 1; order[++n] = b } }
    END {
      for (i = 1; i <= n; i++) {
        m = split(v[order[i]], a, " ")
        for (x = 2; x <= m; x++) for (y = x; y > 1 && a[y - 1] + 0 > a[y] + 0; y--) { t = a[y]; a[y] = a[y - 1]; a[y - 1] = t }
        med = m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        printf "batch %s: %.2f [%.2f, %.2f]\n", order[i], med, a[1], a[m]
      }
    }'
fi
