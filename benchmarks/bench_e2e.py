"""End-to-end throughput on the real broker: ingest, worker processing, replay --verify.

    .venv/bin/python benchmarks/bench_e2e.py ../shared/data/timeline17-dev/articles.jsonl \
        [--worker single|staged|pages] [--replay-in-process]

Uses a fresh topic prefix (so it never mixes with other runs) on the broker given by
STORYLINE_BOOTSTRAP_SERVERS (default 127.0.0.1:9092; start it with `storyline kafka up`),
runs exactly the commands an operator types, and prints one line per stage plus a JSON
summary. Numbers are wall-clock on this machine, including process start-up. ``--worker``:
``single`` (default: `storyline worker --single`, one process, the recorded figures),
``staged`` (`storyline worker`: extract x N + the fold) or ``pages`` (`storyline worker` with
``STORYLINE_PAGE_PROCESSES`` = the assignments topic's partitions: extract x N, assign, page x
M). RSS is the sum over the worker's process tree.

Before the worker, a plain aiokafka pass-through of the same records on the same broker:
every record of the articles topic consumed and produced again as it is (to a topic of
the run's prefix, ``acks="all"`` and idempotent as the worker's producer), timed from the
clients' start to the last acknowledgement. The worker's rate is also given as a fraction
of it: what the broker and the Kafka clients alone allow on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

STORYLINE = [sys.executable, "-m", "storyline.cli"]


def timed(cmd: list[str], env: dict[str, str], timeout: float = 3600
          ) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, result


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def rss_mb(pid: int) -> float:
    """Resident set size of a process and its descendants (MB), 0 when it is gone."""
    return round(sum(rss_by_process(pid).values()), 1)


def rss_by_process(pid: int) -> dict[str, float]:
    """RSS (MB) of each process of the tree, named by its stage arguments ("supervisor" for
    ``storyline worker`` itself)."""
    return {name: round(kb / 1024, 1) for name, (kb, _) in _by_process(pid).items()}


def cpu_by_process(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) each process of the tree has used so far."""
    return {name: round(cpu, 2) for name, (_, cpu) in _by_process(pid).items()}


def _by_process(pid: int) -> dict[str, tuple[int, float]]:
    """(RSS kB, CPU s) of each process of the tree, by name."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, tuple[int, float]] = {}
    for member in _tree(pid):
        try:
            argv = Path(f"/proc/{member}/cmdline").read_bytes().split(b"\0")
            kb = next(int(line.split()[1]) for line in
                      Path(f"/proc/{member}/status").read_text().splitlines()
                      if line.startswith("VmRSS:"))
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[-1].split()
        except (OSError, StopIteration):
            continue
        words = [w.decode() for w in argv if w]
        name = " ".join(words[words.index("--stage") + 1:]) if "--stage" in words else (
            "supervisor" if member == pid else " ".join(words[-2:]))
        # utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name
        out[name or str(member)] = (kb, (int(fields[11]) + int(fields[12])) / tick)
    return out


class RssSampler(threading.Thread):
    """The worker's peak RSS, sampled every half second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.peak = max(self.peak, rss_mb(self.pid))


def topic_bytes(env: dict[str, str]) -> dict[str, int]:
    """Bytes of the record values on the articles, story-updates and story-pages topics."""
    from storyline.settings import Settings
    from storyline.stream.logreader import end_offsets, read_partition

    settings = Settings(bootstrap_servers=env.get("STORYLINE_BOOTSTRAP_SERVERS",
                                                  "127.0.0.1:9092"),
                        topic_prefix=env["STORYLINE_TOPIC_PREFIX"])

    async def total(topic: str) -> int:
        count = 0
        for partition, end in (await end_offsets(settings.bootstrap_servers, topic)).items():
            async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                               stop=end):
                count += len(record.value or b"")
        return count

    return {f"{name}_bytes": asyncio.run(total(topic)) for name, topic in (
        ("articles", settings.articles), ("story_updates", settings.story_updates),
        ("story_pages", settings.story_pages))}


async def _passthrough(bootstrap: str, source: str, target: str) -> tuple[int, float]:
    """Every record of ``source`` partition 0 produced again to ``target``: the records and
    the seconds from the clients' start to the last acknowledgement."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from storyline.kafka.security import kafka_options
    from storyline.stream.logreader import FETCH_LIMITS
    from storyline.stream.worker import MAX_REQUEST_BYTES

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(target, 1, 1, topic_configs={
            "max.message.bytes": str(MAX_REQUEST_BYTES)})])
    finally:
        await admin.close()
    tp = TopicPartition(source, 0)
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                isolation_level="read_committed", **FETCH_LIMITS,
                                **kafka_options())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, max_request_size=MAX_REQUEST_BYTES,
                                **kafka_options())
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        acks: list[asyncio.Future[object]] = []
        position = 0
        while position < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                for record in records:
                    acks.append(await producer.send(target, record.value, key=record.key))
                    position = record.offset + 1
        await asyncio.gather(*acks)
        return len(acks), time.perf_counter() - started
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*",
                        default=["../shared/data/timeline17-dev/articles.jsonl"])
    parser.add_argument("--worker", choices=("single", "staged", "pages"), default="single")
    parser.add_argument("--replay-in-process", action="store_true",
                        help="also time `replay --verify --extract-processes 0` (extraction "
                             "in the replaying process), after the default replay")
    args = parser.parse_args()
    files = args.files
    count = sum(sum(1 for line in Path(f).read_text().splitlines() if line.strip()) for f in files)
    data_dir = Path(tempfile.mkdtemp(prefix="storyline-bench-"))
    env = dict(os.environ)
    env.update({"STORYLINE_TOPIC_PREFIX": f"bench-{uuid.uuid4().hex[:8]}.",
                "STORYLINE_DATA_DIR": str(data_dir), "STORYLINE_LOG_LEVEL": "warning"})
    subprocess.run([*STORYLINE, "topics", "apply"], env=env, check=True, capture_output=True)
    if args.worker == "pages":
        from storyline.settings import Settings
        from storyline.stream.logreader import end_offsets

        settings = Settings(bootstrap_servers=env.get("STORYLINE_BOOTSTRAP_SERVERS",
                                                      "127.0.0.1:9092"),
                            topic_prefix=env["STORYLINE_TOPIC_PREFIX"])
        pages = len(asyncio.run(end_offsets(settings.bootstrap_servers, settings.assignments)))
        env["STORYLINE_PAGE_PROCESSES"] = str(pages)

    ingest_s, ingest = timed([*STORYLINE, "ingest", *files], env)
    if ingest.returncode not in (0, 2):
        print(ingest.stdout, ingest.stderr, file=sys.stderr)
        return 1

    from storyline.settings import Settings

    bootstrap = env.get("STORYLINE_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    articles_topic = Settings(bootstrap_servers=bootstrap,
                              topic_prefix=env["STORYLINE_TOPIC_PREFIX"]).articles
    passed, passthrough_s = asyncio.run(_passthrough(
        bootstrap, articles_topic, f"{env['STORYLINE_TOPIC_PREFIX']}passthrough"))

    worker_args = ["--single"] if args.worker == "single" else []
    worker = subprocess.Popen([*STORYLINE, "worker", *worker_args], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=(data_dir / "worker.log").open("w"))
    rss = RssSampler(worker.pid)
    rss.start()
    try:
        process_s, status = timed([*STORYLINE, "status", "--wait", "--timeout", "3000"], env)
        by_process = rss_by_process(worker.pid)
        cpu = cpu_by_process(worker.pid)
        final_rss = round(sum(by_process.values()), 1)
    finally:
        rss.stop.set()
        worker.terminate()
        worker.wait(timeout=60)
    if status.returncode != 0:
        print(status.stdout, status.stderr, file=sys.stderr)
        return 1

    replay_s, replay = timed([*STORYLINE, "replay", "--verify"], env)
    print(replay.stdout.strip())
    match = re.search(r"(\d+) revisions", replay.stdout)
    in_process: dict[str, object] = {}
    if args.replay_in_process:
        here_s, here = timed([*STORYLINE, "replay", "--verify", "--extract-processes", "0"],
                             env)
        print(here.stdout.strip())
        in_process = {"replay_verify_in_process_seconds": round(here_s, 2),
                      "replay_verify_in_process_articles_per_s": round(count / here_s, 1),
                      "verified_in_process": here.returncode == 0}
    summary = {
        "worker": args.worker,
        "articles": count,
        "ingest_seconds": round(ingest_s, 2),
        "ingest_articles_per_s": round(count / ingest_s, 1),
        "worker_seconds": round(process_s, 2),
        "worker_articles_per_s": round(count / process_s, 1),
        "passthrough_records": passed,
        "passthrough_seconds": round(passthrough_s, 2),
        "passthrough_records_per_s": round(passed / passthrough_s, 1),
        "worker_fraction_of_passthrough": round((count / process_s) / (passed / passthrough_s),
                                                4),
        "replay_verify_seconds": round(replay_s, 2),
        "replay_verify_articles_per_s": round(count / replay_s, 1),
        "revisions": int(match.group(1)) if match else None,
        "verified": replay.returncode == 0,
        **in_process,
        "worker_rss_mb_caught_up": final_rss,
        "worker_rss_mb_by_process": by_process,
        "worker_cpu_s_by_process": cpu,
        "worker_cpu_ms_per_article": round(1000 * sum(cpu.values()) / count, 2),
        "worker_rss_mb_peak": rss.peak,
        **topic_bytes(env),
    }
    print(json.dumps(summary, indent=2))
    return 0 if replay.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
