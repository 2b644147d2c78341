#!/usr/bin/env bash
# Builds the GPU bundle: a self-contained linux-x64 publish of the `gpunet` command (no .NET needed where it runs), the
# GPU check script and the PyTorch peers it runs, in one tar.xz archive of at most 64 MiB.
#
# Usage: bash scripts/gpu-bundle.sh [OUTDIR]        (default: dist/, which git ignores)
# Writes OUTDIR/gpunet-linux-x64.tar.xz and prints its size; fails if it is over 64 MiB.
# On the GPU machine: bash scripts/gpu-check.sh OUTDIR/gpunet-linux-x64.tar.xz RESULTS (see docs/gpu.md).
#
# The archive unpacks to gpunet-linux-x64/:
#   gpunet                 the command (a wrapper around app/GpuNet.Experiments)
#   app/                   the self-contained publish (.NET runtime included; not trimmed, since ILGPU uses reflection)
#   scripts/               gpu-check.sh and gpu_table.py
#   bench/peers/           gemm.py, mlp_epoch.py, knn_torch.py (the PyTorch CUDA peers)
#   VERSION                the commit it was built from
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/dist}"
limit=$((64 * 1024 * 1024))
name=gpunet-linux-x64

command -v dotnet >/dev/null || { echo "gpu-bundle: dotnet (the .NET 10 SDK) is needed to build the bundle" >&2; exit 1; }
command -v xz >/dev/null || { echo "gpu-bundle: xz is needed to compress the bundle" >&2; exit 1; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stage="$work/$name"
mkdir -p "$stage/scripts" "$stage/bench/peers"

echo "gpu-bundle: publishing src/Experiments for linux-x64, self-contained" >&2
dotnet publish "$root/src/Experiments" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=false \
  -o "$stage/app" -nologo -v q >&2
# The API documentation is for the IDE; nothing reads it at run time.
find "$stage/app" -maxdepth 1 -name '*.xml' -delete

cat >"$stage/gpunet" <<'EOF'
#!/bin/sh
# The gpunet command from the GPU bundle: self-contained, needs no .NET installation.
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/app/GpuNet.Experiments" "$@"
EOF
chmod +x "$stage/gpunet" "$stage/app/GpuNet.Experiments"
cp "$root/scripts/gpu-check.sh" "$root/scripts/gpu_table.py" "$stage/scripts/"
cp "$root/bench/peers/gemm.py" "$root/bench/peers/mlp_epoch.py" "$root/bench/peers/knn_torch.py" "$stage/bench/peers/"
{
  commit="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
  dirty="$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | head -c1)"
  echo "commit $commit${dirty:+ (with uncommitted changes)}"
  echo "built $(date -u '+%Y-%m-%d %H:%M:%S UTC') with $(dotnet --version) for linux-x64"
} >"$stage/VERSION"

# The stage's own "$stage/app/GpuNet.Experiments devices" would prove nothing here (dotnet is installed); gpu-check.sh's
# preflight is where the bundle first runs without the SDK.
archive="$out/$name.tar.xz"
tar -C "$work" -cf - "$name" | xz -T0 -6 >"$archive.tmp"
mv "$archive.tmp" "$archive"
size=$(stat -c %s "$archive")
unpacked=$(du -sb "$stage" | cut -f1)
awk -v s="$size" -v u="$unpacked" -v f="$archive" 'BEGIN { printf "gpu-bundle: %s: %.1f MiB (%d bytes; %.1f MiB unpacked)\n", f, s / 1048576, s, u / 1048576 }'
if [ "$size" -gt "$limit" ]; then
  echo "gpu-bundle: the archive is over the 64 MiB limit" >&2
  exit 1
fi
