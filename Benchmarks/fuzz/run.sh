#!/usr/bin/env bash
# Issue 8, the long fuzzing run: every libFuzzer target for MINUTES each (default 10), with
# value profiling, starting from (and growing) the corpora kept in
# Benchmarks/results/fuzz/corpus/<target>, so successive runs go deeper. Findings and logs go
# to Benchmarks/results/fuzz/out/<target>/; a finding fails the run. Takes 6 × MINUTES plus
# the build (Scripts/fuzz.sh says how to turn a finding into a regression input).
#
#   Benchmarks/fuzz/run.sh [MINUTES] [TARGET...]
#
# The CI runs the short form instead (Scripts/test.sh: Scripts/fuzz.sh 30).
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes="${1:-10}"
[ "$#" -gt 0 ] && shift
results=Benchmarks/results/fuzz
mkdir -p "$results/corpus"
export AGORA_FUZZ_CORPUS="$PWD/$results/corpus"
export AGORA_FUZZ_OUT="$PWD/$results/out"
export AGORA_FUZZ_FLAGS="${AGORA_FUZZ_FLAGS:--use_value_profile=1}"
exec Scripts/fuzz.sh $((minutes * 60)) "$@"
