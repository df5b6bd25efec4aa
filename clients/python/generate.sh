#!/usr/bin/env bash
# Everything protoc makes from proto/, with grpcio-tools (pinned in requirements.txt):
#   - the Python stubs (lumenslate/storage/v1/{storage,admin}_pb2*.py) in OUT_DIR (default clients/python)
#   - the descriptor set the server's reflection serves (default src/transports/grpc/descriptor-set.binpb):
#     protoc's descriptors, because the ones proto-loader builds lose imports, map entries and
#     optional fields, and grpcurl cannot use them.
#   bash clients/python/generate.sh [OUT_DIR [DESCRIPTOR_SET]]
# tests/test_generated.py generates into a temp dir and compares.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here}"
descriptor_set="${2:-$root/src/transports/grpc/descriptor-set.binpb}"
python="${PYTHON:-python3}"
# grpc.health.v1 as the server implements it (grpc-health-check's copy of health.proto).
health_include="$root/node_modules/grpc-health-check/proto"

mkdir -p "$out"
# -I proto makes the module path lumenslate/storage/v1/, so the stubs import as
# `from lumenslate.storage.v1 import storage_pb2`. Well-known types (timestamp.proto) come from
# grpcio-tools' bundled includes.
"$python" -m grpc_tools.protoc \
  -I "$root/proto" \
  --python_out="$out" \
  --pyi_out="$out" \
  --grpc_python_out="$out" \
  "$root/proto/lumenslate/storage/v1/storage.proto" \
  "$root/proto/lumenslate/storage/v1/admin.proto"

# Packages, so the stubs import the same way on every Python version and tool.
for dir in lumenslate lumenslate/storage lumenslate/storage/v1; do
  touch "$out/$dir/__init__.py"
done

# Storage and admin APIs and health, with their imports (google/protobuf/timestamp.proto), for reflection.
"$python" -m grpc_tools.protoc \
  -I "$root/proto" \
  -I "$health_include" \
  --include_imports \
  --descriptor_set_out="$descriptor_set" \
  lumenslate/storage/v1/storage.proto \
  lumenslate/storage/v1/admin.proto \
  health/v1/health.proto
