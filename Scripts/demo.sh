#!/usr/bin/env bash
# A working demo of what Agora does today, in a scratch state directory:
# init a gateway, open accounts, register a sensor, mint credits, buy a window of data,
# audit the ledger (with replay) and verify the purchase receipt offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
source Scripts/env.sh
swift build -c release --product agora
agora="$PWD/.build/release/agora"

state="$(mktemp -d "${TMPDIR:-/tmp}/agora-demo-XXXXXX")"
export AGORA_STATE_DIR="$state/state"
step() { printf '\n\033[1m$ agora %s\033[0m\n' "$*"; "$agora" "$@"; }

log_key="$("$agora" init --domain gw1.example --name "Demo gateway")"
printf '\n\033[1m$ agora init --domain gw1.example\033[0m\nlog verifier key: %s\n' "$log_key"
step user add operator@gw1.example --role operator
step user add alice@gw1.example --role owner
step user add bob@gw1.example --role consumer
step credit mint bob@gw1.example 500 --memo "welcome credits"
step sensor add air-quai-7 --owner alice@gw1.example --kind pm25 --unit ug/m3 --price 12 \
    --name "Quai de Seine" --lat 48.856613 --lon 2.352222 --frequency 60
step purchase --buyer bob@gw1.example --sensor air-quai-7 \
    --from 2026-11-22T08:00:00Z --to 2026-11-22T10:30:00Z --request-id demo-1
step purchase --buyer bob@gw1.example --sensor air-quai-7 \
    --from 2026-11-22T08:00:00Z --to 2026-11-22T10:30:00Z --request-id demo-1
step user list
step ledger show
step ledger verify --replay
"$agora" ledger receipt 6 > "$state/receipt.json"
printf '\n\033[1m$ agora ledger receipt 6 > receipt.json\033[0m\n'; cat "$state/receipt.json"
step verify-receipt "$state/receipt.json" --log-key "$log_key"
step status
printf '\nscratch state kept in %s\n' "$state"
