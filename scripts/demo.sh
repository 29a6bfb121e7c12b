#!/usr/bin/env bash
# The main job: Kafka broker, topics, worker, sample wire articles in, story pages out, and the
# read API serving the pages. Safe to run again: re-sent articles are idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
sl=.venv/bin/storyline
port=${STORYLINE_DEMO_PORT:-8000}
run_dir="${STORYLINE_DATA_DIR:-var}/run"
mkdir -p "$run_dir"

step() { printf '\n==> %s\n' "$*"; }

start_bg() {  # name, command...
  local name=$1; shift
  local pidfile="$run_dir/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  nohup "$@" >"$run_dir/$name.log" 2>&1 &
  echo $! >"$pidfile"
  echo "$name started (pid $!, log $run_dir/$name.log)"
}

step "Kafka broker (single-node KRaft on 127.0.0.1:9092)"
$sl kafka up

step "Topics (deploy/topics.toml)"
$sl topics apply

step "Worker"
start_bg worker $sl worker

step "Ingest the sample wire articles"
$sl ingest samples/wire/*.jsonl samples/wire/feed.rss || {
  status=$?
  # exit 2 means some items were invalid and went to the dead-letter topic; the demo ships
  # such items on purpose to show it
  [ "$status" -eq 2 ] || exit "$status"
}

step "Waiting for the worker to fold every article"
$sl status --wait --timeout 300

step "Stories"
$sl story list
for id in $($sl story list --ids); do
  printf '\n%s\n' "----------------------------------------------------------------------"
  $sl story show "$id"
done

step "Read API and pages"
start_bg serve $sl serve --host 127.0.0.1 --port "$port"
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
printf '\nStory pages: http://127.0.0.1:%s/\nAPI docs:    http://127.0.0.1:%s/docs\n' "$port" "$port"
echo "Stop everything with: make stop"
