#!/usr/bin/env bash
# Prints the path of a promtool binary, building the pin in tools/promtool-version if none is found.
# Only the offline Prometheus checks need it (`promtool check rules` on deploy/prometheus/alerts.yml,
# `promtool check metrics` on a scrape of the service in test/observability-metrics.test.ts).
# Usage: PROMTOOL_BINARY="$(scripts/ensure-promtool.sh)"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec bash "$root/scripts/ensure-go-tool.sh" promtool PROMTOOL_BINARY "$root/tools/promtool-version"
