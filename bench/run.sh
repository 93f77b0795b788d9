#!/usr/bin/env bash
# The one command: bash bench/run.sh [--duration 15] [--rounds 5] [--warmup 3] [--profile SECONDS]
# Everything happens in bench/run.py (which stops every server it started, on Ctrl-C too).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "no .venv: python3 -m venv .venv && .venv/bin/pip install -e ." >&2
  exit 1
fi
exec .venv/bin/python bench/run.py "$@"
