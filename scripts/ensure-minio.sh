#!/usr/bin/env bash
# Prints the path of a MinIO server binary, building the pinned one if none is found.
# Lookup order: $MINIO_BINARY, `minio` on PATH, $(go env GOBIN), $(go env GOPATH)/bin, then
# `go install <pin>` with the pin read from tools/minio-version (the community edition ships as
# source only, so the Go module proxy is the one way to get it). Only the path goes to stdout;
# everything else goes to stderr so callers can do `MINIO_BINARY=$(scripts/ensure-minio.sh)`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pin_file="$root/tools/minio-version"

fail() {
  echo "ensure-minio: $*" >&2
  exit 1
}

if [[ -n "${MINIO_BINARY:-}" ]]; then
  [[ -x "$MINIO_BINARY" ]] || fail "MINIO_BINARY=$MINIO_BINARY is not an executable file"
  echo "$MINIO_BINARY"
  exit 0
fi

if found="$(command -v minio 2>/dev/null)"; then
  echo "$found"
  exit 0
fi

# Where `go install` puts binaries: GOBIN if set, else the first GOPATH entry's bin.
go_bin_dir() {
  local gobin gopath
  gobin="$(go env GOBIN)"
  if [[ -n "$gobin" ]]; then
    echo "$gobin"
  else
    gopath="$(go env GOPATH)"
    echo "${gopath%%:*}/bin"
  fi
}

if ! command -v go >/dev/null 2>&1; then
  fail "no minio binary found (checked \$MINIO_BINARY and PATH) and Go is not installed to build one; install Go or set MINIO_BINARY"
fi

bin_dir="$(go_bin_dir)"
if [[ -x "$bin_dir/minio" ]]; then
  echo "$bin_dir/minio"
  exit 0
fi

[[ -r "$pin_file" ]] || fail "cannot read the MinIO pin at $pin_file"
pin="$(grep -v '^[[:space:]]*\(#\|$\)' "$pin_file" | head -n 1 | tr -d '[:space:]')"
[[ "$pin" == *@* ]] || fail "$pin_file must hold one line of the form module@version"

echo "ensure-minio: building $pin with go install (several minutes on a fresh machine)" >&2
# CGO off: MinIO needs no C and a static build does not depend on the machine's toolchain.
CGO_ENABLED=0 go install "$pin" >&2 || fail "go install $pin failed"

[[ -x "$bin_dir/minio" ]] || fail "go install succeeded but $bin_dir/minio is missing"
echo "$bin_dir/minio"
