#!/usr/bin/env bash
# Prints the path of a MinIO client (`mc`) binary, building the pinned one if none is found.
# Lookup order: $MC_BINARY, `mc` on PATH, $(go env GOBIN), $(go env GOPATH)/bin, then
# `go install <pin>` with the pin read from tools/mc-version. mc is AGPL-3.0: the service only
# ever runs it as a separate program (src/backends/minio-admin.ts). Only the path goes to stdout;
# everything else goes to stderr so callers can do `MC_BINARY=$(scripts/ensure-mc.sh)`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pin_file="$root/tools/mc-version"

fail() {
  echo "ensure-mc: $*" >&2
  exit 1
}

# `mc` is also the name of Midnight Commander; accept only a binary that says it is the MinIO client.
is_minio_client() {
  local out
  [[ -x "$1" ]] || return 1
  out="$("$1" --version 2>/dev/null)" || return 1
  [[ "$out" == *MinIO* ]]
}

if [[ -n "${MC_BINARY:-}" && "$MC_BINARY" != "mc" ]]; then
  is_minio_client "$MC_BINARY" || fail "MC_BINARY=$MC_BINARY is not an executable MinIO client"
  echo "$MC_BINARY"
  exit 0
fi

if found="$(command -v mc 2>/dev/null)" && is_minio_client "$found"; then
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
  fail "no MinIO client found (checked \$MC_BINARY and PATH) and Go is not installed to build one; install Go or set MC_BINARY"
fi

bin_dir="$(go_bin_dir)"
if is_minio_client "$bin_dir/mc"; then
  echo "$bin_dir/mc"
  exit 0
fi

[[ -r "$pin_file" ]] || fail "cannot read the mc pin at $pin_file"
pin="$(grep -v '^[[:space:]]*\(#\|$\)' "$pin_file" | head -n 1 | tr -d '[:space:]')"
[[ "$pin" == *@* ]] || fail "$pin_file must hold one line of the form module@version"

echo "ensure-mc: building $pin with go install (a minute or two on a fresh machine)" >&2
CGO_ENABLED=0 go install "$pin" >&2 || fail "go install $pin failed"

is_minio_client "$bin_dir/mc" || fail "go install succeeded but $bin_dir/mc is missing"
echo "$bin_dir/mc"
