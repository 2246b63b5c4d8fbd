#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs them all,
# including the end-to-end tests that build and boot the real Debian test VM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${CI:-}" = "true" ]; then
  # CI proves the whole chain: the test VM is built from scratch (debootstrap ->
  # fixed VHD) in a fresh cache, and a testbed that cannot be built fails the run.
  export VMIMAGE_TESTBED="${VMIMAGE_TESTBED:-require}"
  export VMIMAGE_CACHE="${VMIMAGE_CACHE:-$(mktemp -d /tmp/vmimage-ci-cache.XXXXXX)}"
  echo "test.sh: CI run, testbed images built in $VMIMAGE_CACHE"
fi
set +e
.venv/bin/python -m pytest tests -p no:cacheprovider -ra "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
