#!/usr/bin/env bash
# Prints the path of a Go-built tool's binary, building the pinned one if none is found.
#   ensure-go-tool.sh <binary name> <env var naming a binary> <pin file> [text its --version must contain]
# Lookup order: $<env var>, <name> on PATH, $(go env GOBIN), $(go env GOPATH)/bin, then
# `go install <pin>` with the pin read from the pin file (one line, module@version). Only the path
# goes to stdout; everything else goes to stderr so callers can do `X=$(ensure-go-tool.sh ...)`.
set -euo pipefail

name="$1" var="$2" pin_file="$3" must_say="${4:-}"

fail() {
  echo "ensure-$name: $*" >&2
  exit 1
}

# A binary qualifies when it is executable and, if asked, its --version says what it is (`mc` is
# also Midnight Commander's name).
qualifies() {
  [[ -x "$1" ]] || return 1
  [[ -z "$must_say" ]] && return 0
  local out
  out="$("$1" --version 2>/dev/null)" || return 1
  [[ "$out" == *"$must_say"* ]]
}

given="${!var:-}"
if [[ -n "$given" && "$given" != "$name" ]]; then
  qualifies "$given" || fail "$var=$given is not an executable $name"
  echo "$given"
  exit 0
fi

if found="$(command -v "$name" 2>/dev/null)" && qualifies "$found"; then
  echo "$found"
  exit 0
fi

command -v go >/dev/null 2>&1 ||
  fail "no $name found (checked \$$var and PATH) and Go is not installed to build one; install Go or set $var"

# Where `go install` puts binaries: GOBIN if set, else the first GOPATH entry's bin.
bin_dir="$(go env GOBIN)"
if [[ -z "$bin_dir" ]]; then
  gopath="$(go env GOPATH)"
  bin_dir="${gopath%%:*}/bin"
fi
if qualifies "$bin_dir/$name"; then
  echo "$bin_dir/$name"
  exit 0
fi

[[ -r "$pin_file" ]] || fail "cannot read the pin at $pin_file"
pin="$(grep -v '^[[:space:]]*\(#\|$\)' "$pin_file" | head -n 1 | tr -d '[:space:]')"
[[ "$pin" == *@* ]] || fail "$pin_file must hold one line of the form module@version"

echo "ensure-$name: building $pin with go install (minutes on a fresh machine)" >&2
# CGO off: these tools need no C, and a static build does not depend on the machine's toolchain.
CGO_ENABLED=0 go install "$pin" >&2 || fail "go install $pin failed"

qualifies "$bin_dir/$name" || fail "go install succeeded but $bin_dir/$name is missing"
echo "$bin_dir/$name"
