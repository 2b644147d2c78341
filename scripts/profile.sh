#!/usr/bin/env bash
# Where a gpunet command's time goes: samples it with Linux perf (call stacks, 499 Hz) and prints the share of CPU time
# per phase (training steps, evaluation, data pipeline, k-NN, plotting and reports, runtime and JIT) and per op
# (GEMM, elementwise, loss, ...), from the sampled stacks.
# Usage: bash scripts/profile.sh OUT_DIR gpunet-arguments...   e.g. bash scripts/profile.sh /tmp/prof run mlp --device cpu
# Needs perf (Debian: apt-get install linux-perf) and permission to sample (root, or kernel.perf_event_paranoid <= 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -lt 2 ]; then
  echo "usage: bash scripts/profile.sh OUT_DIR gpunet-arguments..." >&2
  exit 2
fi
out="$1"; shift
command -v perf >/dev/null || { echo "profile.sh: perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$out"
"$root/gpunet" devices >/dev/null # build first, outside the profile
dll="$root/src/Experiments/bin/Release/net10.0/GpuNet.Experiments.dll"
# The runtime writes /tmp/perf-PID.map so perf can name JIT-compiled methods; W^X double mapping off so the addresses
# perf sees are the ones in the map.
DOTNET_PerfMapEnabled=3 DOTNET_EnableWriteXorExecute=0 \
  perf record -q -e cpu-clock -F 499 -g -o "$out/perf.data" -- dotnet "$dll" "$@"
perf script -i "$out/perf.data" -F comm,tid,ip,sym 2>/dev/null | python3 "$root/scripts/profile_summary.py" | tee "$out/profile.txt"
