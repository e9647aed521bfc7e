#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: sets up the venv, runs the static checks
# (scripts/check.sh), then pytest against the real embedded broker and PostgreSQL (started by the
# test fixtures). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/browser-setup.sh   # Debian's Chromium for the console's browser tests
bash scripts/asyncapi-schema.sh # the official AsyncAPI 3.0 schema (npm @asyncapi/specs, sha512-pinned)
bash scripts/check.sh           # lint and types first: seconds, and a finding fails the run
# One pytest worker per core (pytest-xdist), each with its own session broker and PostgreSQL;
# a module's tests stay on one worker (--dist loadscope), so a module's stack starts once. Not
# when the run stops and starts an external broker or database (the outage tests): the other
# workers' tests share that infrastructure. GRANTS_TEST_WORKERS overrides (0: one process).
workers=${GRANTS_TEST_WORKERS:-auto}
if [ -n "${GRANTS_TEST_KAFKA_STOP_CMD:-}${GRANTS_TEST_PG_STOP_CMD:-}" ] && [ -z "${GRANTS_TEST_WORKERS:-}" ]; then
  workers=0
fi
parallel=()
if [ "$workers" != "0" ]; then
  parallel=(-n "$workers" --dist loadscope)
fi
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "${parallel[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: no tests ran; that is a failure" >&2
  exit 1
fi
exit "$status"
