"""The extract stage over Kafka (docs/stages.md, step 3): articles/s with 1 and 2 extract
processes from a pre-filled articles topic, and end-to-end throughput of the single-process
worker against the split one (`worker --stage all`: extract x 2 + fold x 1).

    STORYLINE_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python \
        benchmarks/bench_extract_stage.py ../shared/data/timeline17-dev/articles.jsonl --count 800

Each run gets a fresh topic prefix and data directory on the given broker and runs the
commands an operator types; it is timed from the launch of the command (process start-up
included) to the moment the stage's consumer groups have committed the whole articles
topic, and also from the first commit (start-up and rebuild excluded: "steady"). The load
average of the machine is printed with the results: on a shared machine it matters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from storyline.replay import records_from_files
from storyline.settings import Settings
from storyline.stream.extract_stage import extract_group
from storyline.stream.worker import app_id

STORYLINE = [sys.executable, "-m", "storyline.cli"]


def environment(bootstrap: str, data: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"STORYLINE_BOOTSTRAP_SERVERS": bootstrap,
                "STORYLINE_TOPIC_PREFIX": f"b-{uuid.uuid4().hex[:8]}.",
                "STORYLINE_DATA_DIR": str(data / uuid.uuid4().hex[:8]),
                "STORYLINE_COMMIT_INTERVAL": "0.2",
                "STORYLINE_LOG_LEVEL": "warning"})
    return env


async def prepare(env: dict[str, str], records: list[tuple[bytes, bytes]], stripes: int
                  ) -> None:
    settings = Settings(bootstrap_servers=env["STORYLINE_BOOTSTRAP_SERVERS"],
                        topic_prefix=env["STORYLINE_TOPIC_PREFIX"])
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:  # the facts topic with one partition per stripe; `topics apply` makes the rest
        await admin.create_topics([NewTopic(settings.facts, stripes, 1, topic_configs={
            "max.message.bytes": "16777216"})])
    finally:
        await admin.close()
    # exit 2: the facts topic differs from deploy/topics.toml (1 partition): meant here
    applied = subprocess.run([*STORYLINE, "topics", "apply"], env=env, capture_output=True)
    if applied.returncode not in (0, 2):
        raise RuntimeError(applied.stderr.decode())
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                max_request_size=4 * 1024 * 1024, linger_ms=20)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(settings.articles, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def committed(bootstrap: str, groups: list[str], tp: TopicPartition) -> list[int]:
    out = []
    for group in groups:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            found = await consumer.committed(tp)
            out.append(found if found is not None and found >= 0 else 0)
        finally:
            await consumer.stop()
    return out


def run(label: str, env: dict[str, str], args: list[str], groups: list[str], total: int,
        timeout: float) -> dict[str, object]:
    settings = Settings(bootstrap_servers=env["STORYLINE_BOOTSTRAP_SERVERS"],
                        topic_prefix=env["STORYLINE_TOPIC_PREFIX"])
    tp = TopicPartition(settings.articles, 0)
    load_before = os.getloadavg()
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # a session of its own, as the stage processes `worker --stage` starts (see there)
    process = subprocess.Popen([*STORYLINE, "worker", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    first = None
    try:
        while True:
            done = asyncio.run(committed(settings.bootstrap_servers, groups, tp))
            now = time.perf_counter()
            if first is None and sum(done) > 0:
                first, at_first = now, sum(done) / len(done)
            if min(done) >= total:
                break
            if process.poll() is not None or now - started > timeout:
                raise RuntimeError(f"{label}: stopped at {done} of {total}")
            time.sleep(0.25)
    finally:
        process.terminate()
        process.wait(timeout=60)
    wall = now - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    steady = (total - at_first) / (now - first) if first is not None and now > first else None
    result = {"run": label, "articles": total, "seconds": round(wall, 1),
              "articles_per_s": round(total / wall, 1),
              "steady_articles_per_s": round(steady, 1) if steady else None,
              "cpu_seconds": round(cpu, 1), "cpu_ms_per_article": round(1000 * cpu / total, 1),
              "load_before": [round(x, 1) for x in load_before],
              "load_after": [round(x, 1) for x in os.getloadavg()]}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("articles", type=Path)
    parser.add_argument("--count", type=int, default=800)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--only", choices=("extract", "e2e"), default=None)
    args = parser.parse_args()
    bootstrap = os.environ.get("STORYLINE_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    log = records_from_files([args.articles], "t", args.count)
    records = [(k or b"", v or b"") for k, v, _ in log]
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-xstage-") as tmp:
        data = Path(tmp)
        runs: list[tuple[str, int, list[str], str]] = []
        if args.only in (None, "extract"):
            runs += [("extract x1", 1, ["--stage", "extract", "--processes", "1"], "extract"),
                     ("extract x2", 2, ["--stage", "extract", "--processes", "2"], "extract")]
        if args.only in (None, "e2e"):
            runs += [("worker --single (one process)", 2, ["--single"], "fold"),
                     ("worker --stage all (extract x2 + fold)", 2, ["--stage", "all"], "fold")]
        for label, stripes, command, kind in runs:
            env = environment(bootstrap, data)
            asyncio.run(prepare(env, records, stripes))
            settings = Settings(bootstrap_servers=bootstrap,
                                topic_prefix=env["STORYLINE_TOPIC_PREFIX"])
            groups = ([extract_group(settings, i, stripes) for i in range(stripes)]
                      if kind == "extract" else [app_id(settings)])
            results.append(run(label, env, command, groups, len(records), args.timeout))
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
