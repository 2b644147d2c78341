#!/usr/bin/env bash
# GEMM on GpuNet's host engine and on NumPy/PyTorch in one run, then the GpuNet/peer ratio per shape.
# Usage: [AVX2_ONLY=1] bash bench/peers/gemm_ratio.sh [SIZES] [SECONDS]   (defaults: 1024,2048,mlp64,mlp256 and 1)
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
IFS=',' read -ra entries <<<"$sizes"
for e in "${entries[@]}"; do
  "$root/gpunet" bench gemm --device cpu --sizes "$e" --seconds "$seconds" | grep -v '^#' | tee -a "$out"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${peer_env[@]}" "$py" "$root/bench/peers/gemm.py" --sizes "$e" --seconds "$seconds" | tee -a "$out"
done

echo
echo "# ratio = GpuNet GFLOP/s / peer GFLOP/s (above 1: GpuNet is faster)"
awk '
  /^gemm / { shape=$2; lib=$3; g[shape, lib]=$(NF-1); if (!(shape in seen)) { seen[shape]=1; order[++n]=shape } }
  END {
    printf "%-18s %10s %10s %10s %8s %8s\n", "shape", "gpunet", "numpy", "torch", "vs np", "vs torch"
    for (i = 1; i <= n; i++) {
      s = order[i]; me = g[s, "cpu"]; np_ = g[s, "numpy"]; t = g[s, "torch"]
      printf "%-18s %10.2f %10.2f %10.2f %8.2f %8.2f\n", s, me, np_, t, (np_ > 0 ? me / np_ : 0), (t > 0 ? me / t : 0)
    }
  }' "$out"
