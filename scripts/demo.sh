#!/usr/bin/env bash
# The main job: set up, then build, boot and certify the bundled Debian test image.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
