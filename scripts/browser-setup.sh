#!/usr/bin/env bash
# Idempotent set-up of what the console's browser tests need: Debian's Chromium (the tests drive
# it through Playwright's Python package with executable_path; Playwright's own browser download
# is never used). Quick when Chromium is already there. axe-core comes with the Python package
# axe-playwright-python (a dev dependency installed by bootstrap.sh), not from this repository.
# Skipped, with a note, where apt-get is missing or we are not root: the browser tests then skip.
set -euo pipefail

say() { echo "browser-setup: $*"; }

chromium_path() {
  local cand
  for cand in "${GRANTS_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$cand" ] && [ -x "$cand" ]; then
      echo "$cand"
      return 0
    fi
  done
  return 1
}

if found=$(chromium_path); then
  say "chromium present ($found)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != "0" ]; then
  say "no chromium, and no apt-get as root to install it: the browser tests will skip"
  exit 0
fi
say "installing Debian's chromium (apt-get)"
started=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
say "installed $(chromium_path) in $(($(date +%s) - started))s"
