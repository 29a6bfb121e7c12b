#!/usr/bin/env bash
# The whole test suite: unit, property, integration (real Kafka broker started by the
# session fixture) and end-to-end tests.
set -uo pipefail
cd "$(dirname "$0")/.."
# Headless Chromium for the page tests (Debian package; skipped where apt is unavailable).
bash scripts/install-chromium.sh || echo "chromium unavailable: browser tests will skip" >&2
# Three workers on two cores (STORYLINE_TEST_WORKERS to change): the chaos, broker and
# end-to-end tests mostly wait on processes and the broker, so a third worker computes while
# another waits (with two, a run of the integration files left the CPU half idle). A file's
# tests stay in one worker (module fixtures); each worker starts its own broker on free ports.
# The files are handed out in the order tests/conftest.py gives them (--no-loadscope-reorder):
# the long chaos and end-to-end files first, the integration files spread over the first
# unit files (waiting beside computing), the rest of the unit files last, which evens out
# the workers' ends (sessions 30 and 32, docs/benchmarks.md).
workers="${STORYLINE_TEST_WORKERS:-3}"
if [ "$workers" -gt 1 ]; then
  set -- -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
fi
# Bytecode caches on, whatever the environment says (PYTHONDONTWRITEBYTECODE): without
# them every worker compiled and assertion-rewrote every test module again (~5 CPU s each),
# and every `storyline` subprocess of the tests compiled the services code it imports. They
# go to __pycache__ beside the sources (ignored by git), checked against the sources' times.
unset PYTHONDONTWRITEBYTECODE
# the slowest tests are listed at the end (the suite must stay well under 15 minutes on CI)
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=25 "$@"
status=$?
# pytest exits 5 when it collected nothing; that is not a failure of the product
if [ "$status" -eq 5 ]; then status=0; fi
exit "$status"
