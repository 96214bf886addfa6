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
# Suites run one after another: several start servers, processes and Kafka clusters, and timing checks stay
# honest when they do not compete for two cores.
# The run's whole output is kept in .build/test-output.log; what failed is repeated at the end, where a reader of
# the last lines (a CI summary) sees it.
log=.build/test-output.log
status=0
swift test --skip-build --no-parallel "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  echo "---- failures (whole output in $log) ----"
  grep -E '^✘|: error: |Fatal error' "$log" | head -60 || true
fi
exit "$status"
