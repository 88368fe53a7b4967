#!/usr/bin/env bash
# Fuzzing with libFuzzer (issue 8): builds the executables of the Fuzz/ package with the
# toolchain's libFuzzer and AddressSanitizer, then runs each target for SECONDS (default 30)
# on a copy of its seed corpus (Tests/Fuzz/Corpus/<target>). Fails on any crash, broken
# invariant, leak, timeout (an input taking > 10 s) or out-of-memory (> 2 GiB RSS); the input
# is kept under $AGORA_FUZZ_OUT/<target>/ and the log's tail is printed.
#
#   Scripts/fuzz.sh [SECONDS] [TARGET...]     targets: xmpp-stream xmpp-c2s senml pairing csr receipt http-request add-checkpoint
#
# A finding becomes a regression input: copy it to Tests/Fuzz/Regressions/<target>/ with a
# name saying what it was; FuzzRegressionTests replays it in every `swift test`.
#
# Environment:
#   AGORA_FUZZ_SANITIZERS  default fuzzer,address. fuzzer alone builds in 60% of the CPU time
#                          (from scratch on 2 cores: ~7 instead of ~9 min) and runs 2–3 times
#                          as many inputs, but finds no leaks and no memory errors that the
#                          Swift runtime does not trap by itself
#   AGORA_FUZZ_CONFIG      debug (default) or release
#   AGORA_FUZZ_SCRATCH     build folder (default Fuzz/.build, Fuzz/.build-fuzzer without ASan)
#   AGORA_FUZZ_OUT         findings, logs (default Fuzz/out)
#   AGORA_FUZZ_CORPUS      keep the grown corpora here, one folder per target, and start from
#                          them next time (default: a throw-away copy of the seeds)
#   AGORA_FUZZ_FLAGS       extra libFuzzer flags (e.g. -use_value_profile=1)
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/env.sh

seconds="${1:-30}"
[ "$#" -gt 0 ] && shift
all=(xmpp-stream xmpp-c2s senml pairing csr receipt http-request add-checkpoint)
targets=("$@")
[ "${#targets[@]}" -eq 0 ] && targets=("${all[@]}")

# -max_len: a little above each decoder's own limit (FuzzTarget.maxLength says why).
declare -A max_len=([xmpp-stream]=20000 [xmpp-c2s]=8192 [senml]=66000 [pairing]=17000 [csr]=8300 [receipt]=8192 [http-request]=4096 [add-checkpoint]=8192)
declare -A dict=([xmpp-stream]=xmpp [xmpp-c2s]=xmpp [senml]=json [pairing]=json [receipt]=json [http-request]=http [add-checkpoint]=witness)
# Leaks are checked after every input that allocated more than it freed, except for xmpp-c2s:
# its gateway's state grows by design, so nearly every input triggers a rescan of the whole
# heap (8 times slower: 21 instead of 177 inputs/s). There LeakSanitizer checks once, when the
# run ends, and a leak fails the run all the same (rerun with AGORA_FUZZ_FLAGS=-detect_leaks=1
# to learn which input).
declare -A leaks=([xmpp-c2s]=0)
for target in "${targets[@]}"; do
    [ -n "${max_len[$target]:-}" ] || { echo "fuzz.sh: unknown target $target (known: ${all[*]})" >&2; exit 2; }
done

sanitizers="${AGORA_FUZZ_SANITIZERS:-fuzzer,address}"
config="${AGORA_FUZZ_CONFIG:-debug}"
# Each sanitizer set keeps its own build folder, so switching does not rebuild everything.
default_scratch=Fuzz/.build
[ "$sanitizers" = "fuzzer,address" ] || default_scratch="Fuzz/.build-${sanitizers//,/-}"
scratch="${AGORA_FUZZ_SCRATCH:-$default_scratch}"
out="${AGORA_FUZZ_OUT:-Fuzz/out}"
build=(swift build --package-path Fuzz --scratch-path "$scratch" -c "$config"
       -Xswiftc "-sanitize=$sanitizers" -Xswiftc -parse-as-library -Xswiftc -enable-testing)

mkdir -p "$out"
start=$(date +%s)
# ld.gold warns about every ASan symbol it cannot export; only errors are worth showing.
if ! "${build[@]}" > "$out/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$out/build.log" | tail -40 >&2
    echo "fuzz build failed (full log: $out/build.log)" >&2
    exit 1
fi
echo "fuzz build ($sanitizers, $config): $(( $(date +%s) - start )) s" >&2
bin="$("${build[@]}" --show-bin-path)"

work="$(mktemp -d "${TMPDIR:-/tmp}/agora-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failed=()
printf '%-12s %8s %9s %8s %8s %s\n' target runs "exec/s" cov ft result >&2
for target in "${targets[@]}"; do
    corpus="$work/$target/corpus"
    if [ -n "${AGORA_FUZZ_CORPUS:-}" ]; then
        corpus="$AGORA_FUZZ_CORPUS/$target"
    fi
    mkdir -p "$corpus" "$work/$target/tmp" "$out/$target"
    for seed in Tests/Fuzz/Corpus/"$target"/*; do
        [ -e "$corpus/$(basename "$seed")" ] || cp "$seed" "$corpus/"
    done
    log="$work/$target/fuzz.log"   # copied to $out when done: two runs at once do not mix their logs
    flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$target]}"
           -artifact_prefix="$out/$target/" -print_final_stats=1)
    [ -n "${dict[$target]:-}" ] && flags+=(-dict="Tests/Fuzz/Dictionaries/${dict[$target]}.dict")
    [ -n "${leaks[$target]:-}" ] && flags+=(-detect_leaks="${leaks[$target]}")
    # shellcheck disable=SC2206
    flags+=(${AGORA_FUZZ_FLAGS:-})
    status=0
    # The Swift backtracer would spend ~30 s symbolicating each crash; libFuzzer and ASan report it.
    SWIFT_BACKTRACE=enable=no TMPDIR="$work/$target/tmp" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
        "$bin/fuzz-$target" "${flags[@]}" "$corpus" > "$log" 2>&1 || status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
    ft="$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
    cp "$log" "$out/$target/fuzz.log"
    log="$out/$target/fuzz.log"
    if [ "$status" -eq 0 ]; then result=ok; else result="FAILED (exit $status)"; failed+=("$target"); fi
    printf '%-12s %8s %9s %8s %8s %s\n' "$target" "${runs:--}" "${speed:--}" "${cov:--}" "${ft:--}" "$result" >&2
    if [ "$status" -ne 0 ]; then
        grep -E '^(==[0-9]+==ERROR|SUMMARY|Fatal error|.*: Fatal error)' "$log" | head -5 >&2 || true
        ls "$out/$target"/{crash,leak,timeout,oom,slow-unit}-* 2>/dev/null | sed 's/^/  input: /' >&2 || true
        echo "  log: $log" >&2
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
