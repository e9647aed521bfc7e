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
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: no tests ran; that is a failure" >&2
  exit 1
fi
exit "$status"
