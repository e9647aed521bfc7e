#!/usr/bin/env bash
# Runs the main job on a fresh machine: set-up, the embedded stack in simulation mode, the full
# 2022 family-house round (98 municipalities) through the running services, and the auditors'
# replay. Writes the result JSON to demo-result.json. Extra args go to `grants demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/grants demo "$@"
