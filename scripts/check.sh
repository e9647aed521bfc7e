#!/usr/bin/env bash
# The static checks scripts/test.sh runs before pytest: ruff, then mypy (pyproject.toml [tool.ruff]
# and [tool.mypy]: strict on contracts/, every services/*/domain/ and audit/). A finding fails the
# run. Alone, after scripts/bootstrap.sh: bash scripts/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/ruff check --quiet .; then
  echo "check.sh: ruff found the problems above (rules: pyproject.toml [tool.ruff])" >&2
  exit 1
fi
if ! .venv/bin/mypy; then
  echo "check.sh: mypy found the problems above (settings: pyproject.toml [tool.mypy])" >&2
  exit 1
fi
echo "check.sh: ruff and mypy clean"
