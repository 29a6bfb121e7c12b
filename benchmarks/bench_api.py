"""Read-side latency: GET story under a constant 500 requests/s, and SSE delivery delay.

    .venv/bin/python benchmarks/bench_api.py [--rate 500] [--seconds 10] [--kafka HOST:PORT|local]

1. GET /v1/stories/{id}: the API runs as its own process (`storyline serve --no-projector`
   on a temp SQLite store with 300 stories x 3 revisions). Load comes from
   - an open-model generator in this process (constant arrival rate; each request's latency
     is measured from its *scheduled* send time, so a stall counts against every request
     queued behind it: no coordinated omission), and
   - `wrk` when installed (scripts/install-chromium.sh installs it), paced with a Lua delay;
     wrk is closed-loop, so its percentiles are the optimistic view.
2. SSE: N revisions (``StoryUpdated`` records, each a story's first revision, carried
   whole) are written through the projector's apply path (store transaction, then
   notification) while a subscriber listens on /v1/events; delay = write start -> frame
   received. Measured (a) with the projector inside the API process (`storyline serve`),
   (b) with the projector in another process, the API polling the store every 20 ms, and
   (c) with --kafka, end to end from the producer's send through the broker.

All traffic stays on 127.0.0.1 and every loop is bounded in count and time. Prints a table
and writes out/bench/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from storyline.domain.canonical import canonical_bytes
from storyline.kafka.broker import free_port
from storyline.read.config import ReadSettings
from storyline.read.local_server import serving
from storyline.read.projector import Projector, decode_record
from storyline.read.samples import story_revision, updates
from storyline.read.sse import parse_last_event_id
from storyline.read.store import ReadStore, open_store
from storyline.settings import Settings
from storyline.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "storyline.story-updates"
STORIES = 300


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(latencies_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in latencies_s]
    return {"count": len(ms), "p50_ms": round(percentile(ms, 50), 2),
            "p90_ms": round(percentile(ms, 90), 2), "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms), 2) if ms else float("nan")}


def preload(store: ReadStore) -> list[str]:
    """STORIES stories x 3 revisions, as the topic carries them: each story's first
    revision whole, the next two as changes."""
    ids = [f"bench-{i:04d}" for i in range(STORIES)]
    events = updates([story_revision(story_id, r) for r in (1, 2, 3) for story_id in ids])
    result = store.apply(TOPIC, [decode_record(0, i, b"k", canonical_bytes(e))
                                 for i, e in enumerate(events)])
    if result.applied != len(events):
        raise RuntimeError(f"preload applied {result.applied} of {len(events)} records: "
                           f"{[r.reason for r in result.rejected[:3]]}")
    return ids


# -- 1. GET story -----------------------------------------------------------------------------


async def open_model_load(port: int, paths: list[str], rate: float, seconds: float,
                          max_connections: int = 64) -> dict[str, Any]:
    """Constant-rate arrivals over a bounded keep-alive connection pool."""
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    slots = asyncio.Semaphore(max_connections)
    latencies: list[float] = []
    errors = 0

    async def one(path: str, scheduled: float) -> None:
        nonlocal errors
        async with slots:
            conn = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                latencies.append(loop.time() - scheduled)
                idle.append(conn)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                writer.close()

    count = int(rate * seconds)
    start = loop.time() + 0.05
    tasks = []
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(paths[i % len(paths)], scheduled)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
    elapsed = loop.time() - start
    for _, writer in idle:
        writer.close()
    return {**summary(latencies), "errors": errors, "achieved_rps": round(count / elapsed, 1)}


def wrk_load(port: int, paths: list[str], rate: float, seconds: float) -> dict[str, Any] | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    connections = 10
    delay_ms = max(1, round(connections / rate * 1000))
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    quoted = ", ".join(f'"{p}"' for p in paths)
    script.write_text(f"""
local paths = {{{quoted}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
delay = function() return {delay_ms} end
done = function(summary, latency, requests)
  io.write(string.format("JSON {{\\"p50_ms\\": %.2f, \\"p90_ms\\": %.2f, \\"p99_ms\\": %.2f, "
    .. "\\"max_ms\\": %.2f, \\"count\\": %d, \\"errors\\": %d, \\"achieved_rps\\": %.1f}}\\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6)))
end
""")
    try:
        out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{int(seconds)}s",
                              "-s", str(script), f"http://127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=seconds + 60, check=True)
    finally:
        script.unlink(missing_ok=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("JSON "))
    result: dict[str, Any] = json.loads(line[5:])
    result["note"] = f"closed loop, {connections} connections, {delay_ms} ms pause each"
    return result


def start_server(database: Path, port: int,
                 env_overrides: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # one load generator is one client address: the per-client limit would measure itself
    # (unless ``env_overrides`` says otherwise)
    env = {**os.environ, "STORYLINE_LOG_LEVEL": "warning",
           "STORYLINE_SSE_POLL_SECONDS": "0.02", "STORYLINE_RATE_LIMIT_GET_PER_CLIENT": "0",
           **(env_overrides or {})}
    proc = subprocess.Popen([sys.executable, "-m", "storyline.cli", "serve", "--no-projector",
                             "--database", str(database), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/stories?limit=1").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("storyline serve did not start")


# -- 2. SSE -----------------------------------------------------------------------------------


async def sse_delays(base_url: str, write: Callable[[int], Awaitable[int]], count: int,
                     gap: float) -> dict[str, Any]:
    """Write ``count`` revisions ``gap`` seconds apart, on partition 1; ``write(i)`` returns
    the offset after its record (what the frame's event id says of partition 1)."""
    sent: dict[int, float] = {}
    received: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client, \
            client.stream("GET", "/v1/events") as response:
        lines = response.aiter_lines()
        await anext(lines)  # "retry:" -- the subscription is live

        async def listen() -> None:
            while len(received) < count:
                line = await anext(lines)
                if line.startswith("id: "):  # the records sent: partition 1's next offset
                    positions = parse_last_event_id(line[4:])
                    assert isinstance(positions, dict)
                    received[positions[1]] = time.perf_counter()

        listener = asyncio.create_task(listen())
        for i in range(count):
            started = time.perf_counter()
            seq = await write(i)
            sent[seq] = started
            await asyncio.sleep(gap)
        await asyncio.wait_for(listener, timeout=30)
    delays = [received[seq] - sent[seq] for seq in sent if seq in received]
    return {**summary(delays), "lost": count - len(delays)}


def writer_for(projector: Projector, prefix: str) -> Callable[[int], Awaitable[int]]:
    async def write(i: int) -> int:
        offset = projector.store.positions(TOPIC).get(1, 0)
        [update] = updates([story_revision(f"{prefix}-{i}", 1)])
        result = await projector.apply([decode_record(1, offset, b"k", canonical_bytes(update))])
        assert result.last_seq is not None
        return offset + 1
    return write


async def sse_in_process(workdir: Path, count: int) -> dict[str, Any]:
    store = open_store(workdir / "sse-in-process.sqlite3")
    app = create_app(store, settings=Settings(), read_settings=ReadSettings())
    async with serving(app) as base:
        projector = Projector(store, bootstrap="unused:9", topic=TOPIC,
                              notifier=app.state.read.notifier)
        return await sse_delays(base, writer_for(projector, "inproc"), count, gap=0.01)


async def sse_cross_process(database: Path, port: int, count: int) -> dict[str, Any]:
    projector = Projector(open_store(database), bootstrap="unused:9", topic=TOPIC)
    return await sse_delays(f"http://127.0.0.1:{port}", writer_for(projector, "xproc"),
                            count, gap=0.01)


async def sse_kafka(bootstrap: str, workdir: Path, count: int) -> dict[str, Any]:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import NewTopic

    from storyline.kafka.admin import admin_client

    settings = Settings(bootstrap_servers=bootstrap,
                        topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.")
    async with admin_client(bootstrap) as admin:
        await admin.create_topics([NewTopic(settings.story_updates, 3, 1)])
    store = open_store(workdir / "sse-kafka.sqlite3")
    app = create_app(store, settings=settings, read_settings=ReadSettings(),
                     run_projector=True)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        async with serving(app) as base:
            await asyncio.sleep(2.0)  # the projector assigns itself the partitions

            async def write(i: int) -> int:
                [update] = updates([story_revision(f"kafka-{i}", 1)])
                sent = await producer.send_and_wait(
                    settings.story_updates, canonical_bytes(update),
                    key=update.story_id.encode(), partition=1)
                return sent.offset + 1  # what the frame's event id says of partition 1
            return await sse_delays(base, write, count, gap=0.02)
    finally:
        await producer.stop()


# -- main -------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="storyline-bench-api-"))
    results: dict[str, Any] = {"rate": args.rate, "seconds": args.seconds,
                               "cpus": os.cpu_count()}
    database = workdir / "get.sqlite3"
    ids = preload(open_store(database))
    port = free_port()
    server = start_server(database, port)
    try:
        paths = [f"/v1/stories/{i}" for i in ids]
        await open_model_load(port, paths, args.rate, 1.0)  # warm-up, not recorded
        results["get_story_open_model"] = await open_model_load(port, paths, args.rate,
                                                                args.seconds)
        results["get_story_wrk"] = await asyncio.to_thread(wrk_load, port, paths, args.rate,
                                                           args.seconds)
        results["sse_cross_process_poll"] = await sse_cross_process(database, port,
                                                                    args.sse_count)
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["sse_in_process"] = await sse_in_process(workdir, args.sse_count)
    if args.kafka == "local":
        from storyline.kafka.broker import BrokerConfig, LocalBroker

        config = BrokerConfig.from_env(host="127.0.0.1", port=free_port(),
                                       controller_port=free_port(),
                                       data_dir=workdir / "broker", heap="512m")
        broker = LocalBroker(config)
        await asyncio.to_thread(broker.start)
        try:
            results["sse_kafka_end_to_end"] = await sse_kafka(broker.bootstrap, workdir,
                                                              args.sse_count)
        finally:
            await asyncio.to_thread(broker.stop, wipe=True)
    elif args.kafka:
        results["sse_kafka_end_to_end"] = await sse_kafka(args.kafka, workdir, args.sse_count)
    shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sse-count", type=int, default=300)
    parser.add_argument("--kafka", default=None,
                        help="bootstrap of a running broker, or 'local' for a private one")
    args = parser.parse_args()
    if args.rate * args.seconds > 50_000 or args.sse_count > 5_000:
        parser.error("keep the benchmark bounded: rate*seconds <= 50000, sse-count <= 5000")
    results = asyncio.run(run(args))
    print(f"{'measurement':28} {'count':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}")
    for name, value in results.items():
        if isinstance(value, dict):
            print(f"{name:28} {value['count']:>6} {value['p50_ms']:>8} {value['p90_ms']:>8} "
                  f"{value['p99_ms']:>8} {value['max_ms']:>8}")
    out = ROOT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "api.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
