#!/usr/bin/env bash
# Set everything up, then run a real node end to end on synthetic data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dcmnode demo "$@"
