#!/usr/bin/env bash
# The benchmarks, all in one run on this machine, with their baselines.
# Issue 2: (a) raw liblmdb appends (C), (b) ledger appends via the group-commit writer,
# (c) market purchases, (d) ledger verify vs SHA-256, (e) inclusion-proof time.
# Issue 3: certificates signed and recorded by AgoraPKI vs `openssl x509 -req` per process,
# a minimal in-process C signer on libcrypto, and `openssl speed ecdsap256`.
# Usage: Benchmarks/run.sh [APPENDS] [PURCHASES]   (defaults 1000000 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/env.sh
appends="${1:-1000000}"; purchases="${2:-200000}"
work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT

gcc -O2 -o "$work/raw_lmdb" Benchmarks/raw-lmdb/raw_lmdb.c -llmdb
gcc -O2 -o "$work/signer" Benchmarks/openssl-signer/signer.c -lcrypto
swift build -c release --product agora-bench >&2

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), store on $(df --output=source,fstype "$work" | tail -1 | xargs)"
raw="$("$work/raw_lmdb" "$work" 1000000 1000 | awk '{print $2}')"
echo "raw_lmdb_puts_per_s $raw (a: 10^6 x 200 B, MDB_APPEND, 1000 per synced txn)"
rm -f "$work"/raw.mdb*
raw64="$("$work/raw_lmdb" "$work" 200000 64 | awk '{print $2}')"
echo "raw_lmdb_64_per_txn_puts_per_s $raw64 (context: the same loop at 64 puts per synced txn, the most 64 waiting submitters can fill)"
rm -f "$work"/raw.mdb*
out="$(.build/release/agora-bench "$work" "$appends" "$purchases")"
echo "$out"

# Issue 3 baselines.
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$work/ca.key" -out "$work/ca.pem" \
    -subj "/CN=bench CA" -days 3650 2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$work/s.key" -out "$work/s.csr" -subj "/CN=s1" 2>/dev/null
n=40
start=$(date +%s.%N)
for i in $(seq $n); do
    openssl x509 -req -in "$work/s.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -set_serial "$i" -days 365 -out "$work/c$i.pem" 2>/dev/null
done
per_process="$(awk -v n=$n -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", n / (e - s)}')"
echo "openssl_x509_req_per_process_per_s $per_process ($n runs of openssl x509 -req)"
c_signer="$("$work/signer" 5000)"
echo "$c_signer"
ecdsa="$(openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/nistp256/ {print $(NF-1)}')"
echo "openssl_speed_ecdsap256_sign_per_s $ecdsa"
get() { echo "$out" | awk -v k="$1" '$1==k {print $2}'; }
awk -v a="$raw" -v a64="$raw64" -v b="$(get ledger_appends_per_s)" -v c="$(get purchases_per_s)" \
    -v d="$(get verify_MB_per_s)" -v s="$(get sha256_256B_MB_per_s)" -v e="$(get inclusion_proof_us)" 'BEGIN {
    printf "ratio (b)/(a) appends      %.3f  (goal >= 0.2); (b) / raw at 64 per txn %.3f\n", b / a, b / a64
    printf "(c) purchases/s            %.0f  (goal >= 20000)\n", c
    printf "ratio (d) verify/SHA-256   %.3f  (goal >= 0.5)\n", d / s
    printf "(e) inclusion proof        %.1f us  (goal < 50)\n", e
}'
awk -v a="$(get agora_certs_per_s)" -v p="$per_process" -v c="$(echo "$c_signer" | awk '{print $2}')" -v r="$ecdsa" 'BEGIN {
    printf "certs: AgoraPKI / openssl per process   %.0f x  (goal >= 50)\n", a / p
    printf "certs: AgoraPKI / C signer (1 thread)   %.2f x  (goal >= 1)\n", a / c
    printf "certs: AgoraPKI / raw ECDSA P-256 sign  %.3f\n", a / r
}'
