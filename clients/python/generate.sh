#!/usr/bin/env bash
# Everything protoc makes from proto/ (every .proto in it), with grpcio-tools (pinned in requirements-dev.txt):
#   - the Python stubs (<name>_pb2.py, _pb2.pyi, _pb2_grpc.py) inside the package, in STUBS_DIR
#     (default clients/python/src/lumenslate_storage/v1), importing each other relatively so they
#     work as `lumenslate_storage.v1.storage_pb2` wherever the package is installed;
#   - the descriptor set the server's reflection serves (default src/transports/grpc/descriptor-set.binpb):
#     protoc's descriptors, because the ones proto-loader builds lose imports, map entries and
#     optional fields, and grpcurl cannot use them.
#   bash clients/python/generate.sh [STUBS_DIR [DESCRIPTOR_SET]]     (npm run gen:grpc runs it)
# tests/test_generated.py generates into a temp dir and compares.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here/src/lumenslate_storage/v1}"
descriptor_set="${2:-$root/src/transports/grpc/descriptor-set.binpb}"
python="${PYTHON:-python3}"
# grpc.health.v1 as the server implements it (grpc-health-check's copy of health.proto).
health_include="$root/node_modules/grpc-health-check/proto"

# storage.proto first (the order the descriptor set has always had), then every other file sorted,
# so a new .proto is picked up without editing this script.
protos=(lumenslate/storage/v1/storage.proto)
while IFS= read -r file; do
  [[ "$file" == lumenslate/storage/v1/storage.proto ]] || protos+=("$file")
done < <(cd "$root/proto" && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# -I proto gives the module path lumenslate/storage/v1/; well-known types (timestamp.proto) come
# from grpcio-tools' bundled includes.
(cd "$root/proto" && "$python" -m grpc_tools.protoc -I . \
  --python_out="$work" --pyi_out="$work" --grpc_python_out="$work" "${protos[@]}")

# protoc has no option for the Python package: it writes `from lumenslate.storage.v1 import x_pb2`.
# Rewritten to `from . import x_pb2`, the stubs live inside lumenslate_storage and never claim the
# top-level name `lumenslate` in a user's environment.
"$python" - "$work" <<'PY'
import pathlib, re, sys
work = pathlib.Path(sys.argv[1])
stubs = work / "lumenslate/storage/v1"
for path in sorted(work.rglob("*.py*")):
    if path.parent != stubs:
        sys.exit(f"generate.sh: {path.relative_to(work)} is outside lumenslate/storage/v1; extend generate.sh")
    text = re.sub(r"^from lumenslate\.storage\.v1 import ", "from . import ", path.read_text(), flags=re.M)
    if re.search(r"^\s*(from|import) lumenslate\b", text, flags=re.M):
        sys.exit(f"generate.sh: {path.name} still imports lumenslate.*; extend the rewrite")
    path.write_text(text)
PY

mkdir -p "$out"
rm -f "$out"/*_pb2.py "$out"/*_pb2.pyi "$out"/*_pb2_grpc.py
cp "$work"/lumenslate/storage/v1/* "$out"/
touch "$out/__init__.py"

# Every API and health, with their imports (google/protobuf/timestamp.proto), for reflection.
"$python" -m grpc_tools.protoc \
  -I "$root/proto" \
  -I "$health_include" \
  --include_imports \
  --descriptor_set_out="$descriptor_set" \
  "${protos[@]}" \
  health/v1/health.proto
