#!/usr/bin/env bash
# Checks the aarch64 build on this x86_64 machine, under qemu-user emulation (issue 17):
#  1. Packaging/out/aarch64/agora is an ARM aarch64 static executable, stamped with HEAD;
#  2. the job end to end with every command run by the aarch64 binary (Scripts/demo.sh
#     --agora): gateway and real (x86_64) Mosquitto, a sensor pairs and publishes, a consumer
#     logs in over STARTTLS, is refused, buys, reads with every proof verified;
#  3. the ledger and store move between architectures: the x86_64 binary replays the store
#     the aarch64 one wrote and verifies its receipt (so does the Python verifier), then
#     writes to it, and the aarch64 binary replays and reads that;
#  4. Packaging/check.sh with the aarch64 binary: an empty chroot, slixmpp, mosquitto_pub,
#     /metrics, the unit, the arm64 .deb;
#  5. Packaging/check-deb.sh --arch arm64: the .deb in an arm64 Debian 12 (debootstrap,
#     emulated): install, `agora status` health ok, remove, purge; lintian.
# Builds what is missing (both static binaries). Root. Run by Scripts/test.sh when
# AGORA_CHECK_ARM64=1; the README says why it is not in every CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
arm=Packaging/out/aarch64/agora
x86=Packaging/out/x86_64/agora
[ -x "$arm" ] || Packaging/build-static.sh --arch aarch64 > /dev/null
[ -x "$x86" ] || Packaging/build-static.sh --arch x86_64 > /dev/null
Packaging/qemu-binfmt.sh
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# 1. What the binary is.
description="$(file -b "$arm")"
if grep -q "ARM aarch64" <<< "$description" && grep -q "statically linked" <<< "$description"; then
    ok "aarch64 binary: $(stat -c %s "$arm") bytes, $(cut -d, -f1-2 <<< "$description"), statically linked"
else
    bad "aarch64 binary: $description"
fi
commit="$(git rev-parse --short HEAD)"
version="$(/usr/bin/qemu-aarch64-static "$arm" version 2>&1 || true)"
grep -q "+git\.$commit" <<< "$version" && ok "qemu-aarch64-static agora version: $version" || bad "agora version: $version (HEAD is $commit)"

# 2. The job, every agora command by the aarch64 binary.
scratch="$(mktemp -d /var/tmp/agora-arm64-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
chmod 0755 "$scratch"
t0=$(date +%s)
if Scripts/demo.sh --agora "$arm" --scratch "$scratch" > "$scratch/demo.log" 2>&1; then
    ok "the job under emulation (Scripts/demo.sh --agora $arm): paired, published, refused, bought, read verified ($(( $(date +%s) - t0 )) s)"
else
    bad "the job under emulation: $(tail -15 "$scratch/demo.log")"
fi

# 3. Across architectures.
state=(--state-dir "$scratch/state")
log_key="$(awk 'NR == 1 { print $2 }' "$scratch/known-logs" 2>/dev/null || true)"
if "$x86" ledger verify --replay "${state[@]}" > "$scratch/x86-verify.log" 2>&1; then
    ok "x86_64 replays the store the aarch64 binary wrote: $(tail -1 "$scratch/x86-verify.log")"
else
    bad "x86_64 ledger verify --replay: $(tail -5 "$scratch/x86-verify.log")"
fi
exported="$("$x86" readings export --sensor air-quai-7 --format csv "${state[@]}" 2>/dev/null | tail -n +2 | wc -l)"
[ "$exported" = 20 ] && ok "x86_64 reads the 20 readings the aarch64 gateway ingested" || bad "x86_64 readings export: $exported readings, expected 20"
if [ -n "$log_key" ] && "$x86" verify-receipt "$scratch/receipt.json" --log-key "$log_key" > /dev/null 2>&1 \
        && /usr/bin/python3 Tests/Interop/verify_receipt.py "$scratch/receipt.json" "$log_key" > /dev/null 2>&1; then
    ok "the aarch64 gateway's purchase receipt verifies with the x86_64 binary and the Python verifier"
else
    bad "receipt from the aarch64 gateway (log key '$log_key')"
fi
balance_before="$("$arm" credit balance bob@gw.demo "${state[@]}" 2>/dev/null | grep -oE '[0-9]+' | head -1 || true)"
"$x86" credit mint bob@gw.demo 7 --memo "minted by x86_64" "${state[@]}" > /dev/null 2>&1 || bad "x86_64 credit mint into the aarch64 store"
balance_after="$("$arm" credit balance bob@gw.demo "${state[@]}" 2>/dev/null | grep -oE '[0-9]+' | head -1 || true)"
if [ -n "$balance_before" ] && [ "$balance_after" = "$((balance_before + 7))" ] \
        && "$arm" ledger verify --replay "${state[@]}" > "$scratch/arm-verify.log" 2>&1; then
    ok "aarch64 replays the store after the x86_64 binary wrote to it (balance $balance_before → $balance_after)"
else
    bad "aarch64 after an x86_64 write: balance '$balance_before' → '$balance_after'; $(tail -3 "$scratch/arm-verify.log" 2>/dev/null)"
fi

# 4. and 5. The shipped artefacts.
Packaging/check.sh --arch aarch64 || fail=1
Packaging/check-deb.sh --arch arm64 || fail=1
exit "$fail"
