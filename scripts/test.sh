#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then runs every Swift test target.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/chromium.sh
swift build --build-tests
swift test --skip-build
