#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: a Python >= 3.11, the project's .venv, every dependency
# exactly as pinned (with hashes) in requirements.lock (`pip install --require-hashes`), then the
# project itself (`pip install --no-deps -e .`). pip runs again only when requirements.lock or
# pyproject.toml changed since the last successful install (their hash is kept in
# .venv/.grants-install-stamp) or the venv is new. Update the lock with `bash scripts/lock.sh`.
# pip runs with -qq (errors only): this machine's pip config names index folders that do not
# exist, and pip warns about each of them.
# Override the interpreter with PYTHON=/path/to/python3; force a reinstall with GRANTS_REINSTALL=1.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.grants-install-stamp"

say() { echo "bootstrap: $*"; }

python_ok() {
  # Some candidates are shims that exist but fail (e.g. pyenv without that version): run them.
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
  local cand
  for cand in ${PYTHON:-} python3.13 python3.12 python3.11 python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && python_ok "$cand"; then
      command -v "$cand"
      return 0
    fi
  done
  return 1
}

hash_file() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

if [ -x "$VENV/bin/python" ] && python_ok "$VENV/bin/python"; then
  say "using existing $VENV ($("$VENV/bin/python" --version 2>&1))"
else
  if [ -e "$VENV" ]; then
    say "$VENV exists but its python is missing or older than 3.11; recreating it"
    rm -rf "$VENV"
  fi
  if ! PY=$(find_python); then
    echo "bootstrap: no Python >= 3.11 found (tried \$PYTHON, python3.13..python3, python)" >&2
    exit 1
  fi
  say "creating $VENV with $PY ($("$PY" --version 2>&1))"
  if ! "$PY" -m venv "$VENV"; then
    echo "bootstrap: '$PY -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    rm -rf "$VENV"
    exit 1
  fi
fi

LOCK=requirements.lock
want="$(hash_file "$LOCK") $(hash_file pyproject.toml)"
have=$(cat "$STAMP" 2>/dev/null || true)
if [ "${GRANTS_REINSTALL:-0}" = "1" ] || [ "$want" != "$have" ]; then
  if [ -z "$have" ]; then
    reason="no record of a previous install"
  elif [ "$want" != "$have" ]; then
    reason="requirements.lock or pyproject.toml changed"
  else
    reason="GRANTS_REINSTALL=1"
  fi
  say "installing the locked dependencies and the project ($reason)"
  started=$(date +%s)
  pip_install() { "$VENV/bin/python" -m pip install -qq --disable-pip-version-check "$@"; }
  # --require-hashes: a file whose sha256 is not in the lock is refused, also a dependency's.
  # --no-compile: pip byte-compiles every installed module (mypy, hypothesis, playwright... that
  # the demo never imports); Python compiles what is imported on first import instead. Measured
  # on the loaded 2-core box: 36 s -> 25 s for the lock.
  pip_install --no-compile --require-hashes -r "$LOCK"
  pip_install --no-deps -e .
  echo "$want" >"$STAMP"
  say "installed in $(($(date +%s) - started))s"
else
  say "dependencies up to date ($LOCK and pyproject.toml unchanged since the last install)"
fi
say "ready: $VENV/bin/python, $VENV/bin/grants"
