#!/usr/bin/env bash
# Prints the path of a MinIO server binary, building the pin in tools/minio-version if none is found
# (the community edition ships as source only, so the Go module proxy is the one way to get it).
# Usage: MINIO_BINARY="$(scripts/ensure-minio.sh)"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec bash "$root/scripts/ensure-go-tool.sh" minio MINIO_BINARY "$root/tools/minio-version"
