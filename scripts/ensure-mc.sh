#!/usr/bin/env bash
# Prints the path of a MinIO client (`mc`) binary, building the pin in tools/mc-version if none is
# found. mc is AGPL-3.0: the service only ever runs it as a separate program (src/backends/minio-admin.ts).
# Usage: MC_BINARY="$(scripts/ensure-mc.sh)"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec bash "$root/scripts/ensure-go-tool.sh" mc MC_BINARY "$root/tools/mc-version" MinIO
