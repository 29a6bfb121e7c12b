#!/usr/bin/env bash
# Stops what `make demo` started: API, worker, then the Kafka broker.
set -uo pipefail
cd "$(dirname "$0")/.."
for name in serve worker; do
  pidfile="${STORYLINE_DATA_DIR:-var}/run/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")" && echo "stopped $name"
    # the worker passes SIGTERM on to its stage processes and exits after them; they need
    # the broker to finish (last sends, commits), so it is stopped only once they are gone
    for _ in $(seq 1 120); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$pidfile"
done
[ -x .venv/bin/storyline ] && .venv/bin/storyline kafka down || true
