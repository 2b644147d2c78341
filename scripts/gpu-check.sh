#!/usr/bin/env bash
# GpuNet's GPU check, for a Linux machine with an NVIDIA GPU, its driver and PyTorch with CUDA; .NET is not needed.
#
# Usage: bash gpu-check.sh ARCHIVE OUTDIR
#   ARCHIVE  the bundle scripts/gpu-bundle.sh builds (gpunet-linux-x64.tar.xz)
#   OUTDIR   where the results go (created if missing)
#
# Steps, all within GPU_CHECK_SECONDS (default 570; it stops by itself within 10 minutes):
#   1. unpack the bundle into a temporary folder;
#   2. preflight: `gpunet devices` must list cuda:0, else it prints the devices, why CUDA is not there, and exits 3;
#   3. `gpunet check --device cuda:0 --out OUTDIR`: every op against the host engine, then the timings (check.md, check.json);
#   4. the PyTorch CUDA peers on the shapes the check timed: torch.mm with TF32 off (gemm.py), the MLP epoch
#      (mlp_epoch.py), the k-NN search through torch.cdist + topk (knn_torch.py);
#   5. OUTDIR/gpu-table.md: one table of GpuNet and PyTorch side by side with their ratios.
# Everything printed also goes to OUTDIR/gpu-check.log. Exit code: 0 when the check passed and the table was written,
# 1 when a comparison failed, 3 when there is no CUDA device, 4 when the time ran out, 2 on bad usage.
#
# To try the whole script on a machine without a GPU: GPU_CHECK_DEVICE=ilgpu-cpu GPU_CHECK_QUICK=1 GPU_CHECK_PEER_DEVICE=cpu
# runs the quick check on ILGPU's CPU accelerator and the peers on PyTorch's CPU path, at the quick check's shapes.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: bash gpu-check.sh ARCHIVE OUTDIR" >&2
  exit 2
fi
archive="$1"
out="$2"
budget="${GPU_CHECK_SECONDS:-570}"
deadline=$(($(date +%s) + budget))
python="${PYTHON:-python3}"
device="${GPU_CHECK_DEVICE:-cuda:0}"
peer_device="${GPU_CHECK_PEER_DEVICE:-cuda}"
quick=()
[ -n "${GPU_CHECK_QUICK:-}" ] && quick=(--quick)
if [ ! -f "$archive" ]; then
  echo "gpu-check: no archive at $archive (build it with scripts/gpu-bundle.sh)" >&2
  exit 2
fi
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"
exec > >(tee -a "$out/gpu-check.log") 2>&1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say() { echo "gpu-check: $*"; }
left() { echo $((deadline - $(date +%s))); }
# Runs a step under `timeout`, given at most $1 seconds and never past the deadline (keeping $2 seconds for what follows).
step() {
  local want="$1" keep="$2"
  shift 2
  local have=$(($(left) - keep))
  [ "$have" -lt "$want" ] && want="$have"
  if [ "$want" -lt 5 ]; then
    say "no time left for: $*"
    return 124
  fi
  timeout --kill-after=5 "$want" "$@"
}

say "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -srm), budget ${budget} s"
say "unpacking $archive"
if ! tar -xJf "$archive" -C "$work"; then
  say "cannot unpack $archive"
  exit 2
fi
b="$work/gpunet-linux-x64"
[ -f "$b/VERSION" ] && say "bundle: $(head -n 1 "$b/VERSION"), $(sed -n 2p "$b/VERSION")"

# 2. Preflight.
say "preflight: gpunet devices"
devices="$(step 60 0 "$b/gpunet" devices 2>&1)"
rc=$?
echo "$devices" | tee "$out/devices.txt"
if [ $rc -ne 0 ] || ! grep -q "^$device " <<<"$devices"; then
  say "STOP: no CUDA device: 'gpunet devices' does not list $device (exit code $rc)."
  if command -v nvidia-smi >/dev/null 2>&1; then
    say "nvidia-smi says:"
    nvidia-smi -L 2>&1 | head -n 8
  else
    say "reason: nvidia-smi is not on PATH: no NVIDIA driver is installed (or this machine has no NVIDIA GPU)."
  fi
  if ! { ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; } && ! ls /usr/lib*/{,x86_64-linux-gnu/}libcuda.so.1 >/dev/null 2>&1; then
    say "reason: libcuda.so.1 (the CUDA driver library) is not in the linker cache or /usr/lib: ILGPU cannot reach a GPU."
  fi
  say "nothing was run on a GPU; results: $out/devices.txt, $out/gpu-check.log"
  exit 3
fi

# 3. gpunet check (it writes check.md and check.json after the comparisons and after each group of timings).
say "gpunet check --device $device ${quick[*]} (at most $(($(left) - 150)) s)"
step 360 150 "$b/gpunet" check --device "$device" "${quick[@]}" --out "$out" 2>&1 | tee "$out/check.log"
check_rc=${PIPESTATUS[0]}
case $check_rc in
  0) say "gpunet check: PASS" ;;
  1) say "gpunet check: FAIL (a comparison is outside its tolerance; see $out/check.md)" ;;
  124 | 137) say "gpunet check: stopped by its time limit; check.json holds what it finished" ;;
  *) say "gpunet check: exit code $check_rc" ;;
esac

# 4. PyTorch CUDA peers, on the shapes the check timed.
peers=()
if ! command -v "$python" >/dev/null 2>&1; then
  say "no $python on PATH: the PyTorch peers are skipped"
elif [ "$peer_device" = cuda ] && ! "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  say "PyTorch with CUDA is not usable here ($("$python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1 | tail -n 1)): the peers are skipped"
else
  eval "$("$python" "$b/scripts/gpu_table.py" shapes "$out/check.json")"
  say "peer: torch.mm, TF32 off, on $gemm_sizes"
  step 120 40 "$python" "$b/bench/peers/gemm.py" --device "$peer_device" --sizes "$gemm_sizes" --seconds 0.5 2>&1 | tee "$out/peer-gemm.txt"
  peers+=("$out/peer-gemm.txt")
  : >"$out/peer-epoch.txt"
  for batch in $epoch_batches; do
    say "peer: MLP epoch at batch $batch"
    step 60 25 "$python" "$b/bench/peers/mlp_epoch.py" --device "$peer_device" --batch "$batch" --samples "$epoch_samples" --epochs 3 2>&1 | tee -a "$out/peer-epoch.txt"
  done
  peers+=("$out/peer-epoch.txt")
  say "peer: k-NN search, torch.cdist + topk"
  step 90 10 "$python" "$b/bench/peers/knn_torch.py" --device "$peer_device" --queries "$knn_queries" --references "$knn_references" --k "$knn_k" 2>&1 | tee "$out/peer-knn.txt"
  peers+=("$out/peer-knn.txt")
fi

# 5. The table.
table_rc=1
if command -v "$python" >/dev/null 2>&1; then
  "$python" "$b/scripts/gpu_table.py" table --check "$out/check.json" --out "$out/gpu-table.md" "${peers[@]}"
  table_rc=$?
else
  say "no $python: no table; the GpuNet side is in $out/check.md"
fi
say "done in $((budget - $(left))) s; results in $out (gpu-table.md, check.md, check.json, gpu-check.log)"
if [ "$check_rc" -eq 1 ]; then exit 1; fi
if [ "$check_rc" -eq 124 ] || [ "$check_rc" -eq 137 ]; then exit 4; fi
if [ "$check_rc" -ne 0 ] || [ "$table_rc" -ne 0 ]; then exit 1; fi
exit 0
