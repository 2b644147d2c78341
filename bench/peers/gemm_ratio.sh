#!/usr/bin/env bash
# GEMM on GpuNet's host engine and on NumPy/PyTorch in one run, then the GpuNet/peer ratio per shape.
# Usage: [AVX2_ONLY=1] [ROUNDS=R] bash bench/peers/gemm_ratio.sh [SIZES] [SECONDS]   (defaults: 1024,2048,mlp64,mlp256, 1)
# ROUNDS=R (default 1) measures every shape R times, GpuNet and the peers alternating each time, and reports per shape
# the median of the R ratios with their range: the machine's speed drifts by 10% and more within a minute, and a ratio
# taken from measurements seconds apart, then the median over rounds, is steadier than one round.
# Needs Debian's python3-numpy, python3-torch and libopenblas0-pthread (see bench/peers/README.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sizes="${1:-256,512,1024,2048,1023,mlp64,mlp256}"
seconds="${2:-1}"
py=/usr/bin/python3
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# Some machines set OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE to dodge bugs of old OpenBLAS builds on new processors; they
# pin an older, slower kernel. The peer runs without them (gemm.py prints the kernel OpenBLAS then picks); its
# results are only meaningful if that kernel computes correctly, which gemm.py does not check: see README.md.
# GpuNet and the peers alternate shape by shape, so both see the same machine load.
# AVX2_ONLY=1 compares the AVX2 paths on a machine that also has AVX-512: GpuNet runs with the runtime's AVX-512 off
# (DOTNET_EnableAVX512=0) and OpenBLAS with its Haswell (AVX2) kernels (OPENBLAS_CORETYPE=Haswell), as on an AVX2-only CPU.
if [ "${AVX2_ONLY:-0}" = 1 ]; then
  export DOTNET_EnableAVX512=0
  peer_env=(OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2)
else
  peer_env=()
fi
"$root/gpunet" bench gemm --device cpu --sizes 1 --seconds 0.1 >/dev/null # build once, outside the timings
rounds="${ROUNDS:-1}"
IFS=',' read -ra entries <<<"$sizes"
for ((r = 1; r <= rounds; r++)); do
  [ "$rounds" = 1 ] || echo "# round $r of $rounds"
  for e in "${entries[@]}"; do
    "$root/gpunet" bench gemm --device cpu --sizes "$e" --seconds "$seconds" | grep -v '^#' | sed "s/\$/ round $r/" | tee -a "$out"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${peer_env[@]}" "$py" "$root/bench/peers/gemm.py" --sizes "$e" --seconds "$seconds" \
      | sed "/^gemm /s/\$/ round $r/" | tee -a "$out"
  done
done

echo
if [ "$rounds" = 1 ]; then
  echo "# ratio = GpuNet GFLOP/s / peer GFLOP/s (above 1: GpuNet is faster)"
else
  echo "# ratio = GpuNet GFLOP/s / peer GFLOP/s (above 1: GpuNet is faster): the median of $rounds rounds, [lowest, highest];"
  echo "# GFLOP/s columns: the medians"
fi
awk '
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function lo(list,   a, n, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
  function hi(list,   a, n, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
  /^gemm / {
    shape = $2; lib = $3; r = $NF; g[shape, lib, r] = $(NF - 3); rounds[r] = 1
    if (!(shape in seen)) { seen[shape] = 1; order[++n] = shape }
  }
  END {
    multi = length(rounds) > 1
    if (multi) printf "%-18s %10s %10s %10s %20s %20s\n", "shape", "gpunet", "numpy", "torch", "vs np", "vs torch"
    else printf "%-18s %10s %10s %10s %8s %8s\n", "shape", "gpunet", "numpy", "torch", "vs np", "vs torch"
    for (i = 1; i <= n; i++) {
      s = order[i]; me = np_ = t = rn = rt = ""
      for (r in rounds) {
        if ((s, "cpu", r) in g) me = me " " g[s, "cpu", r]
        if ((s, "numpy", r) in g) np_ = np_ " " g[s, "numpy", r]
        if ((s, "torch", r) in g) t = t " " g[s, "torch", r]
        if ((s, "numpy", r) in g && g[s, "numpy", r] > 0) rn = rn " " g[s, "cpu", r] / g[s, "numpy", r]
        if ((s, "torch", r) in g && g[s, "torch", r] > 0) rt = rt " " g[s, "cpu", r] / g[s, "torch", r]
      }
      if (multi)
        printf "%-18s %10.2f %10.2f %10.2f %6.2f [%4.2f, %4.2f] %6.2f [%4.2f, %4.2f]\n", s, median(me), median(np_), median(t),
          median(rn), lo(rn), hi(rn), median(rt), lo(rt), hi(rt)
      else
        printf "%-18s %10.2f %10.2f %10.2f %8.2f %8.2f\n", s, median(me), median(np_), median(t), median(rn), median(rt)
    }
  }' "$out"
