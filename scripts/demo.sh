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

fail() {  # message, [log file]: say what failed and where to look, then stop with status 1
  printf '\nmake demo FAILED: %s\n' "$1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    printf -- '--- last lines of %s ---\n' "$2" >&2
    tail -n 20 "$2" >&2
  fi
  exit 1
}

running() {  # name: whether the process we started under that name is alive
  local pidfile="$run_dir/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

started=  # set by start_bg when it started the process (not when it was already running)
start_bg() {  # name, command...
  local name=$1; shift
  local pidfile="$run_dir/$name.pid"
  started=
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  nohup "$@" >"$run_dir/$name.log" 2>&1 &
  echo $! >"$pidfile"
  started=1
  echo "$name started (pid $!, log $run_dir/$name.log)"
}

apply_topics() {  # create the missing topics; a topic that differs needs the operator
  local status=0
  $sl topics apply || status=$?
  case $status in
    0) ;;
    2) fail "a topic differs from deploy/topics.toml (the DIFFERS lines above; nothing was \
changed): alter it by hand, or start the demo afresh: $fresh" ;;
    *) fail "the topics could not be created (exit $status)" ;;
  esac
}

data_dir="${STORYLINE_DATA_DIR:-var}"
if [ "$data_dir" = var ]; then
  fresh="\`make clean\` (stops everything, deletes var/ and out/), then \`make demo\`"
else
  fresh="bash scripts/stop.sh, delete $data_dir, then run the demo again"
fi

step "Kafka broker (single-node KRaft on 127.0.0.1:9092)"
$sl kafka up || fail "the Kafka broker did not start (see $data_dir/kafka/ for its log)"

# A demo left by another version of this code: its pages are that version's, and this
# version's worker refuses to go on from its commits (docs/operations.md, "Upgrading the
# pipeline"). Everything under the data directory is the demo's own, made from the samples
# (and whatever was ingested into it by hand): it starts afresh. Looked at before the topics
# are applied: such a demo's topics may differ from this version's declaration.
said=$($sl status 2>&1 || true)  # (not piped to grep -q: its early exit fails the pipe)
if grep -q "were made by pipeline" <<<"$said"; then
  echo "$data_dir holds the demo of another pipeline version: starting it afresh (the API, the"
  echo "worker and the broker are stopped, then $data_dir is deleted)"
  bash scripts/stop.sh
  rm -rf "$data_dir"
  mkdir -p "$run_dir"
  $sl kafka up || fail "the Kafka broker did not start (see $data_dir/kafka/ for its log)"
fi

step "Topics (deploy/topics.toml)"
apply_topics

step "Worker"
start_bg worker $sl worker
[ -z "$started" ] || sleep 2  # a worker that fails at start has exited by then
running worker || fail "the worker exited at start" "$run_dir/worker.log"

step "Ingest the sample wire articles"
$sl ingest samples/wire/*.jsonl samples/wire/feed.rss || {
  status=$?
  # exit 2 means some items were invalid and went to the dead-letter topic; the demo ships
  # such items on purpose to show it
  [ "$status" -eq 2 ] || exit "$status"
}

step "Waiting for the worker to fold every article"
$sl status --wait --timeout 300 || fail "the worker did not fold every article (is it running?)" \
  "$run_dir/worker.log"

step "Stories"
$sl story list
for id in $($sl story list --ids); do
  printf '\n%s\n' "----------------------------------------------------------------------"
  $sl story show "$id"
done

step "Read API and pages"
start_bg serve $sl serve --host 127.0.0.1 --port "$port"
serve_started=$started
up=
for _ in $(seq 1 60); do
  # the answer must come from the API we started: another program may hold the port
  running serve || fail "the read API exited at start (port $port in use? set STORYLINE_DEMO_PORT)" \
    "$run_dir/serve.log"
  if curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '"last_event_id"'; then
    up=1
    break
  fi
  sleep 0.5
done
[ -n "$up" ] || fail "the read API did not answer on 127.0.0.1:$port within 30 s" "$run_dir/serve.log"
[ -z "$serve_started" ] || sleep 1  # ours may have lost the port to another API meanwhile
running serve || fail "the read API exited (port $port in use? set STORYLINE_DEMO_PORT)" \
  "$run_dir/serve.log"
printf '\nStory pages: http://127.0.0.1:%s/\nAPI docs:    http://127.0.0.1:%s/docs\n' "$port" "$port"
echo "Stop everything with: make stop"
