#!/usr/bin/env bash
# The test command: installs what is needed, builds, and runs the whole test suite
# (unit tests, the CLI against real stores, and the Python receipt verifier).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
source Scripts/env.sh
swift build --build-tests
swift test
