#!/usr/bin/env bash
# The whole test suite: installs what the tests need, starts a throw-away PostgreSQL server for the Storage tests
# (unless CONSENTINEL_TEST_POSTGRES_URL already names one), then runs every Swift test target.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/chromium.sh
if [ -z "${CONSENTINEL_TEST_POSTGRES_URL:-}" ]; then
  trap './scripts/postgres.sh stop' EXIT
  eval "$(./scripts/postgres.sh)"
fi
swift build --build-tests
swift test --skip-build "$@"
