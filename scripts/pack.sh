#!/usr/bin/env bash
# Packs GpuNet.Kernels, GpuNet and the gpunet tool (GpuNet.Tool) into one folder, a local NuGet feed:
#   scripts/pack.sh [OUT]              OUT defaults to artifacts/packages
# Environment: VERSION_SUFFIX (a prerelease suffix, e.g. "preview.1"; the version itself is in version.props),
# REPOSITORY_URL (recorded in the packages when the clone has no `origin` remote), CONFIGURATION (default Release),
# ARTIFACTS_PATH (build there instead of in the projects' bin/ and obj/, leaving the working tree's builds alone),
# NO_BUILD=1 (pack what the last build of CONFIGURATION left in the projects' bin/, as the sample tests do).
# Use the feed with `dotnet add package GpuNet --source OUT` or `dotnet tool install -g GpuNet.Tool --add-source OUT`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$root/artifacts/packages}" && cd "${1:-$root/artifacts/packages}" && pwd)"
args=(-c "${CONFIGURATION:-Release}" -o "$out" -nologo -v q)
[ -n "${VERSION_SUFFIX:-}" ] && args+=("-p:VersionSuffix=$VERSION_SUFFIX")
[ -n "${REPOSITORY_URL:-}" ] && args+=("-p:RepositoryUrl=$REPOSITORY_URL")
[ -n "${ARTIFACTS_PATH:-}" ] && args+=(--artifacts-path "$ARTIFACTS_PATH")
if [ "${NO_BUILD:-}" = 1 ]; then
  # The generated .nuspec files go to a temporary folder, not into obj/ next to the build being packed.
  nuspecs="$(mktemp -d)"
  trap 'rm -rf "$nuspecs"' EXIT
  args+=(--no-build "-p:NuspecOutputPath=$nuspecs/")
fi
# One pack over the three shipped projects (GpuNet.Packages.slnf): each is built once.
dotnet pack "$root/GpuNet.Packages.slnf" "${args[@]}"
ls -1 "$out"/*.nupkg
