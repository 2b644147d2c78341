#!/usr/bin/env bash
# Packs GpuNet.Kernels, GpuNet and the gpunet tool (GpuNet.Tool) into one folder, a local NuGet feed:
#   scripts/pack.sh [OUT]              OUT defaults to artifacts/packages
# Environment: VERSION_SUFFIX (a prerelease suffix, e.g. "preview.1"; the version itself is in Directory.Build.props),
# REPOSITORY_URL (recorded in the packages when the clone has no `origin` remote), CONFIGURATION (default Release).
# Use the feed with `dotnet add package GpuNet --source OUT` or `dotnet tool install -g GpuNet.Tool --add-source OUT`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$root/artifacts/packages}" && cd "${1:-$root/artifacts/packages}" && pwd)"
args=(-c "${CONFIGURATION:-Release}" -o "$out" -nologo -v q)
[ -n "${VERSION_SUFFIX:-}" ] && args+=("-p:VersionSuffix=$VERSION_SUFFIX")
[ -n "${REPOSITORY_URL:-}" ] && args+=("-p:RepositoryUrl=$REPOSITORY_URL")
# One pack over the three shipped projects (GpuNet.Packages.slnf): each is built once.
dotnet pack "$root/GpuNet.Packages.slnf" "${args[@]}"
ls -1 "$out"/*.nupkg
