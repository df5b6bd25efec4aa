#!/usr/bin/env bash
# Prints the path of a Helm binary, building the pin in tools/helm-version if none is found. Only
# the offline chart checks need it (`helm lint`, `helm template` in test/deploy-helm.test.ts): no
# cluster is ever contacted.
# Usage: HELM_BINARY="$(scripts/ensure-helm.sh)"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec bash "$root/scripts/ensure-go-tool.sh" helm HELM_BINARY "$root/tools/helm-version"
