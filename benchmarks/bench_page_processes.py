"""The page stage as processes, from pre-filled topics on the real broker: M page processes
at once against the same M partitions folded one after the other (the page stage's scaling,
issue #10), and the CPU each process used.

    .venv/bin/python benchmarks/bench_page_processes.py ../shared/data/timeline17-dev/articles.jsonl

On the broker of STORYLINE_BOOTSTRAP_SERVERS (default 127.0.0.1:9092: `storyline kafka up`),
under a fresh topic prefix: ingests the file(s), runs the extract stripes and the assign
process (`storyline worker --stage extract|assign`) until the assign group has committed the
whole log, stops them; then, for each round, resets the page groups to 0, gives every page process
an empty data directory and times `storyline worker --stage page --partition P` from its start
until its group has committed the end of its partition: "sequential" runs the partitions one
after the other (one core's worth of page work), "parallel" all at once. Wall seconds include
each process's start (imports, broker connections). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from storyline.settings import Settings
from storyline.stream.logreader import end_offsets

STORYLINE = [sys.executable, "-m", "storyline.cli"]


async def committed(settings: Settings, group: str, tp: TopicPartition) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
        meta = found.get(tp)
        return meta.offset if meta is not None and meta.offset >= 0 else 0
    finally:
        await admin.close()


async def reset_groups(settings: Settings, partitions: list[int]) -> None:
    """Commit offset 0 for each page group on its partition: the next page process starts
    from the beginning with nothing to fold again (its data directory is empty anyway)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import OffsetAndMetadata

    from storyline.stream.page_stage import page_group

    for partition in partitions:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                    group_id=page_group(settings, partition),
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(settings.assignments, partition)
            consumer.assign([tp])
            await consumer.commit({tp: OffsetAndMetadata(0, "")})
        finally:
            await consumer.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def page_round(env: dict[str, str], settings: Settings, partitions: list[int],
               ends: dict[int, int], work: Path) -> dict[str, object]:
    """Page processes for ``partitions``, all started at once; seconds until each caught up."""
    from storyline.stream.page_stage import page_group

    asyncio.run(reset_groups(settings, partitions))
    data = Path(tempfile.mkdtemp(prefix="pages-", dir=work))
    run_env = {**env, "STORYLINE_DATA_DIR": str(data)}
    started = time.perf_counter()
    processes = {p: subprocess.Popen([*STORYLINE, "worker", "--stage", "page", "--partition",
                                      str(p)], env=run_env, stdout=subprocess.DEVNULL,
                                     stderr=(work / f"page-{p}.log").open("ab"))
                 for p in partitions}
    done: dict[int, float] = {}
    cpu: dict[int, float] = {}
    try:
        while len(done) < len(partitions):
            for p, process in processes.items():
                if p in done:
                    continue
                if process.poll() is not None:
                    raise RuntimeError(f"page {p} exited with {process.returncode}")
                tp = TopicPartition(settings.assignments, p)
                if asyncio.run(committed(settings, page_group(settings, p), tp)) >= ends[p]:
                    done[p] = time.perf_counter() - started
                    cpu[p] = cpu_seconds(process.pid)
            time.sleep(0.2)
    finally:
        for process in processes.values():
            stop(process)
    return {"seconds": round(max(done.values()), 2),
            "per_partition_seconds": {p: round(s, 2) for p, s in sorted(done.items())},
            "cpu_seconds": {p: round(c, 2) for p, c in sorted(cpu.items())}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=1,
                        help="sequential/parallel pairs, alternated")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="storyline-pages-bench-"))
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    env = dict(os.environ)
    env.update({"STORYLINE_TOPIC_PREFIX": prefix, "STORYLINE_DATA_DIR": str(work / "fill"),
                "STORYLINE_LOG_LEVEL": "warning", "STORYLINE_PAGE_PROCESSES": "2"})
    settings = Settings(bootstrap_servers=env.get("STORYLINE_BOOTSTRAP_SERVERS",
                                                  "127.0.0.1:9092"), topic_prefix=prefix)
    subprocess.run([*STORYLINE, "topics", "apply"], env=env, check=True, capture_output=True)
    ingest = subprocess.run([*STORYLINE, "ingest", *map(str, args.files)], env=env,
                            capture_output=True, text=True)
    if ingest.returncode not in (0, 2):
        print(ingest.stdout, ingest.stderr, file=sys.stderr)
        return 1
    from storyline.stream.fold_stage import fold_group

    log_end = sum(asyncio.run(end_offsets(settings.bootstrap_servers,
                                          settings.articles)).values())
    stripes = len(asyncio.run(end_offsets(settings.bootstrap_servers, settings.facts)))
    fill = [subprocess.Popen([*STORYLINE, "worker", "--stage", "extract", "--stripe", str(i),
                              "--stripes", str(stripes)], env=env, stdout=subprocess.DEVNULL,
                             stderr=(work / f"extract-{i}.log").open("ab"))
            for i in range(stripes)]
    fill.append(subprocess.Popen([*STORYLINE, "worker", "--stage", "assign"], env=env,
                                 stdout=subprocess.DEVNULL,
                                 stderr=(work / "assign.log").open("ab")))
    started = time.perf_counter()
    try:
        source = TopicPartition(settings.articles, 0)
        while asyncio.run(committed(settings, fold_group(settings, pages=False),
                                    source)) < log_end:
            if any(p.poll() is not None for p in fill):
                raise RuntimeError(f"a filling stage exited: see {work}")
            time.sleep(0.5)
        fill_seconds = time.perf_counter() - started
    finally:
        for process in fill:
            stop(process)
    ends = asyncio.run(end_offsets(settings.bootstrap_servers, settings.assignments))
    partitions = sorted(ends)
    rounds = []
    for _ in range(args.rounds):
        sequential = [page_round(env, settings, [p], ends, work) for p in partitions]
        parallel = page_round(env, settings, partitions, ends, work)
        one = sum(float(r["seconds"]) for r in sequential)  # type: ignore[arg-type]
        rounds.append({"sequential_seconds": round(one, 2),
                       "sequential": sequential,
                       "parallel": parallel,
                       "speed_up": round(one / float(parallel["seconds"]), 2)})  # type: ignore[arg-type]
    print(json.dumps({"articles": log_end, "assignments_per_partition": ends,
                      "fill_seconds_extract_and_assign": round(fill_seconds, 2),
                      "rounds": rounds, "work": str(work)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
