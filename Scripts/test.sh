#!/usr/bin/env bash
# The test command: installs what is needed, builds, and runs the whole test suite
# (unit tests, the CLI against real stores, real XMPP/MQTT peers, the Python receipt
# verifier), then builds the static binary and checks the shipped artefacts
# (Packaging/check.sh: static, empty chroot, systemd unit, .deb; Packaging/check-deb.sh: the
# .deb in a debootstrapped Debian 12, lintian). Set AGORA_SKIP_PACKAGING=1
# to skip the second part while iterating (CI never sets it). AGORA_CHECK_ARM64=1 adds the
# aarch64 cross-build and its checks under emulation (Packaging/check-aarch64.sh, about 20
# minutes more: outside CI's hour, run before every release).
#
# Scripts/test.sh --fast   the lane for iterating: build, then the unit tests only — every
#                          target but AgoraAppTests and InteropTests, which start real
#                          processes and peers (well under 2 minutes once built). No crash
#                          runs, fuzzing or packaging. The full command is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
case "${1:-}" in
    --fast) fast=1 ;;
    "") ;;
    *) echo "usage: Scripts/test.sh [--fast]" >&2; exit 2 ;;
esac
bash Scripts/install-deps.sh
source Scripts/env.sh
swift build --build-tests
# Every test's logs are kept here, then scanned for secrets (issue 8's checklist).
export AGORA_TEST_LOG_ARCHIVE="$(mktemp -d "${TMPDIR:-/tmp}/agora-test-logs-XXXXXX")"
if [ "$fast" = 1 ]; then
    swift test --skip 'AgoraAppTests\.|InteropTests\.'
    rm -rf "$AGORA_TEST_LOG_ARCHIVE"
    echo "fast lane passed (not run: AgoraAppTests, InteropTests, crash and power-cut tests, fuzzing, packaging)" >&2
    exit 0
fi
# Two runs, not one: the suites that drive real processes and peers (AgoraAppTests,
# InteropTests) wait for them with blocking calls (Process.waitUntilExit, polling sleeps),
# which hold threads of Swift's cooperative pool, as wide as the machine has cores. In one
# run, two such waits on a 2-core machine starved the in-process servers of the unit suites
# for more than 20 s (HTTPServerTests' raw-socket reads timed out in CI). Apart, each run
# keeps its own pool.
swift test --skip 'AgoraAppTests\.|InteropTests\.'
swift test --filter 'AgoraAppTests\.|InteropTests\.' --skip CrashRecoveryTests
# The crash and power-cut runs load the machine on purpose: alone, after the rest.
swift test --filter CrashRecoveryTests
/usr/bin/python3 Tests/Reliability/scan_logs.py "$AGORA_TEST_LOG_ARCHIVE"
rm -rf "$AGORA_TEST_LOG_ARCHIVE"
# libFuzzer: every fuzz target for 30 s after its sanitized build (Scripts/fuzz.sh; long run: Benchmarks/fuzz/run.sh).
Scripts/fuzz.sh 30
if [ "${AGORA_SKIP_PACKAGING:-0}" != "1" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        Packaging/build-static.sh > /dev/null
        Packaging/check.sh
        Packaging/check-deb.sh   # debootstrap (cached in /var/cache/agora-check), dpkg -i/-r/--purge, lintian
        if [ "${AGORA_CHECK_ARM64:-0}" = 1 ]; then
            arm64_started=$(date +%s)
            Packaging/build-static.sh --arch aarch64 > /dev/null
            Packaging/check-aarch64.sh
            echo "arm64 part (toolchain, cross-build, checks under emulation): $(( $(date +%s) - arm64_started )) s" >&2
        fi
    else
        echo "packaging checks need root (chroot, mount): skipped" >&2
        exit 1
    fi
fi
