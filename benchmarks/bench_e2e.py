"""End-to-end throughput on the real broker: ingest, worker processing, replay --verify.

    .venv/bin/python benchmarks/bench_e2e.py ../shared/data/timeline17-dev/articles.jsonl

Uses a fresh topic prefix (so it never mixes with other runs) on the broker given by
STORYLINE_BOOTSTRAP_SERVERS (default 127.0.0.1:9092; start it with `storyline kafka up`),
runs exactly the commands an operator types, and prints one line per stage plus a JSON
summary. Numbers are wall-clock on this machine, including process start-up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

STORYLINE = [sys.executable, "-m", "storyline.cli"]


def timed(cmd: list[str], env: dict[str, str], timeout: float = 3600
          ) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, result


def main() -> int:
    files = sys.argv[1:] or ["../shared/data/timeline17-dev/articles.jsonl"]
    count = sum(sum(1 for line in Path(f).read_text().splitlines() if line.strip()) for f in files)
    data_dir = Path(tempfile.mkdtemp(prefix="storyline-bench-"))
    env = dict(os.environ)
    env.update({"STORYLINE_TOPIC_PREFIX": f"bench-{uuid.uuid4().hex[:8]}.",
                "STORYLINE_DATA_DIR": str(data_dir), "STORYLINE_LOG_LEVEL": "warning"})
    subprocess.run([*STORYLINE, "topics", "apply"], env=env, check=True, capture_output=True)

    ingest_s, ingest = timed([*STORYLINE, "ingest", *files], env)
    if ingest.returncode not in (0, 2):
        print(ingest.stdout, ingest.stderr, file=sys.stderr)
        return 1

    worker = subprocess.Popen([*STORYLINE, "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=(data_dir / "worker.log").open("w"))
    try:
        process_s, status = timed([*STORYLINE, "status", "--wait", "--timeout", "3000"], env)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    if status.returncode != 0:
        print(status.stdout, status.stderr, file=sys.stderr)
        return 1

    replay_s, replay = timed([*STORYLINE, "replay", "--verify"], env)
    print(replay.stdout.strip())
    match = re.search(r"(\d+) revisions", replay.stdout)
    summary = {
        "articles": count,
        "ingest_seconds": round(ingest_s, 2),
        "ingest_articles_per_s": round(count / ingest_s, 1),
        "worker_seconds": round(process_s, 2),
        "worker_articles_per_s": round(count / process_s, 1),
        "replay_verify_seconds": round(replay_s, 2),
        "replay_verify_articles_per_s": round(count / replay_s, 1),
        "revisions": int(match.group(1)) if match else None,
        "verified": replay.returncode == 0,
    }
    print(json.dumps(summary, indent=2))
    return 0 if replay.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
