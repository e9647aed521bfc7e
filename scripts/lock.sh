#!/usr/bin/env bash
# Re-resolve requirements.lock from pyproject.toml: every dependency (and the dev extra) pinned
# with the sha256 of each of its files, for every platform and Python >= 3.11 (a universal
# resolution: markers, not this machine, decide what installs). scripts/bootstrap.sh installs
# exactly that. Run after changing a dependency in pyproject.toml, and commit both files:
#     bash scripts/lock.sh                 # keep today's pins where they still fit
#     bash scripts/lock.sh --upgrade       # newest versions pyproject.toml allows
# The resolver (uv, pinned below) lives in .grants/lock-tools, never in the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
TOOLS=.grants/lock-tools
if ! "$TOOLS/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION\b"; then
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -qq --disable-pip-version-check "uv==$UV_VERSION"
fi
# --native-tls: the system's certificate store (as pip uses it); uv's index is the default one.
"$TOOLS/bin/uv" pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
  --generate-hashes --native-tls --quiet --custom-compile-command "bash scripts/lock.sh" \
  -o requirements.lock "$@"
echo "lock: $(grep -c '==' requirements.lock) pinned packages in requirements.lock"
