#!/usr/bin/env bash
# The static checks scripts/test.sh runs before pytest: ruff (rules in pyproject.toml [tool.ruff]).
# A finding fails the run. Alone, after scripts/bootstrap.sh: bash scripts/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/ruff check --quiet .; then
  echo "check.sh: ruff found the problems above (rules: pyproject.toml [tool.ruff])" >&2
  exit 1
fi
echo "check.sh: ruff clean"
