#!/usr/bin/env bash
# Writes the manual pages of `agora` and each subcommand, gzipped, into DIR — generated from
# the command definitions by swift-argument-parser's generate-manual plugin, so they cannot
# drift from `agora --help`.
#
#   Packaging/man-pages.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/env.sh
out="$1"
mkdir -p "$out"
rm -rf .build/plugins/GenerateManual/outputs/agora   # no stale pages of removed commands
# It builds every product; debug: the test command has that build warm already; the pages do not depend on optimisation.
swift package plugin generate-manual --configuration debug --multi-page \
    --authors "Agora developers" >&2
pages="$(find .build/plugins/GenerateManual/outputs/agora -name '*.1' | grep -v '/agora\.help\.1$' || true)"
[ -n "$pages" ] || { echo "error: generate-manual wrote no pages" >&2; exit 1; }
for page in $pages; do gzip -9n < "$page" > "$out/$(basename "$page").gz"; done
