"""Restart after SIGKILL with N articles of history, on the real broker (issue #9: "SIGKILL
to first new revision <= 10 s, with 10^5 articles of history").

    PYTHONPATH=services .venv/bin/python benchmarks/bench_restart.py --articles 2000 \\
        [--log /tmp/synth/synthetic-100000.jsonl] [--tail 200] [--kills 3] [--seed 7] \\
        [--cache /tmp/bench-restart-cache] [--workdir DIR] [--replay-verify] \\
        [--staged [--kill-targets fold tree]]

1. **History, prepared the way the worker would have made it.** The first N records of the
   log file (``storyline.replay.iter_records_from_files``: the key and value bytes an ingest
   would write) are folded in process exactly as the worker folds them (``handle_record``
   on a ``Pipeline`` with a RocksDB cold store and the worker's ``warm_idle``, under the
   topic name and partition the worker sees), and the state is saved with the project's
   snapshot writer (``write_snapshot``: the pickle plus the cold store's checkpoint), with
   every event the fold caused. This takes about 20 CPU ms an article, so it is cached
   under ``--cache`` (``n<N>/``): a later run with the same N reuses it, and a run with a
   larger N resumes from the largest cached N below it (``--save-every`` adds intermediate
   points, so an interrupted fold loses little). The topic prefix is fixed
   (``bench-restart.``) because a snapshot names its topic.
2. **The broker.** A private single-node KRaft broker (``LocalBroker``, as the chaos harness
   starts it), ``storyline topics apply`` under the prefix; the first N + M records are
   produced byte for byte to the articles topic (offsets 0..N+M-1), the prefix fold's
   events to story-updates and dead-letters (what the worker had published), and the
   worker group's offset N is committed with the worker's commit metadata.
3. **First start.** The snapshot is placed where the worker looks for it
   (``state_dir(settings)/snapshots/<topic>-0/``) and ``storyline worker --single`` is
   started (snapshots on; ``--staged``: see below). Measured from its log: the state rebuild
   (``state_ready``: source, seconds), the first published revision, the catch-up of the M
   tail records (the group's commit reaching the end of the log), the RSS after the load.
4. **K kills.** Each round produces a few more records at a steady pace, SIGKILLs the
   worker at a seeded random moment while they arrive, restarts it at once (the chaos
   harness's ``Supervisor``) and times SIGKILL -> the first StoryUpdated the new process
   publishes (from its log, as the harness does, and as it appears on story-updates).
5. **Checks.** The records after the snapshot are folded in process from the cached
   snapshot, and ``replay.verify`` compares every published StoryUpdated with the prefix
   fold's events plus that tail fold (the logic of ``storyline replay --verify`` without
   refolding the history from 0; ``--replay-verify`` runs the command too); the chaos
   harness's checks (no conflicting copies, no revision gaps, every usable article in a
   revision); the committed offset is the end of the log.

``--staged``: the same for the default staged worker (``storyline worker``: the stage
supervisor, an extract process per stripe, the fold; ``docs/stages.md``). The history is
the same (the fold's state, snapshots, data directory and group are the worker's); step 2
also commits every extract stripe's group (``storyline-extract-<i>-of-<N>``) at N, as
``extract_stage`` commits, so no stripe extracts the history again, and the fold's facts
commits at the end of each facts partition, which is 0: the facts topic starts empty (the
fold's merge starts at the state's next source offset, N, and the stripes write offset N on
from facts offset 0). The rounds SIGKILL in turn each of ``--kill-targets`` (default: the
fold process alone, which the stage supervisor starts again on its own while the extract
processes run on; and the whole tree at once, started again by the bench), ``--kills``
times each. Each start is broken down from ``/proc`` (when each stage process started) and
the stage processes' log: the fold set up (its operations server), its rebuild (snapshot
load, then the records after it refolded from the articles log), ``fold_started``, the
first revision; and at the end every stripe's group and the fold's facts commits are
checked at the end of what they read.

Prints a JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "chaos"))

from chaos_harness import (  # noqa: E402 - the harness lives beside the tests
    STORYLINE,
    ChaosReport,
    Supervisor,
    _check_published,
    _first_revision_time,
    _json_lines,
    _produce_paced,
    _stage_commits,
    _stage_processes,
)

from storyline.domain.canonical import canonical_bytes  # noqa: E402
from storyline.domain.events import StoryUpdated  # noqa: E402
from storyline.domain.pipeline import PIPELINE_VERSION, LogPosition, Pipeline  # noqa: E402
from storyline.domain.records import handle_record  # noqa: E402
from storyline.domain.upcasting import decode_any  # noqa: E402
from storyline.replay import (  # noqa: E402
    RebuiltLog,
    Verification,
    iter_records_from_files,
    verify,
)
from storyline.settings import Settings  # noqa: E402
from storyline.stream.coldstore import RocksColdStore  # noqa: E402
from storyline.stream.snapshots import load_snapshot, snapshot_dir, write_snapshot  # noqa: E402

PREFIX = "bench-restart."
MAX_REQUEST_BYTES = 16 * 1024 * 1024
UPDATES, DEAD = 0, 1  # event kinds in the cached events file


def settings_for(bootstrap: str = "127.0.0.1:9092", data_dir: Path = Path("var")) -> Settings:
    return Settings(bootstrap_servers=bootstrap, topic_prefix=PREFIX, data_dir=data_dir)


def rss_mb(pid: int | None = None) -> float | None:
    try:
        text = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def log_line(message: str, **fields: Any) -> None:
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"[{stamp}] {message} {extra}".rstrip(), file=sys.stderr, flush=True)


# --- 1. the history, prepared as the worker would have made it ------------------------------


def write_event(handle: Any, kind: int, key: bytes, value: bytes) -> None:
    handle.write(struct.pack(">BII", kind, len(key), len(value)) + key + value)


def read_events_file(path: Path) -> Iterator[tuple[int, bytes, bytes]]:
    with path.open("rb") as handle:
        while head := handle.read(9):
            kind, klen, vlen = struct.unpack(">BII", head)
            key = handle.read(klen)
            yield kind, key, handle.read(vlen)


def digest_record(digest: Any, key: bytes | None, value: bytes | None) -> None:
    """sha256 over the records (length-prefixed key and value), to tell two logs apart."""
    digest.update(len(key or b"").to_bytes(4, "big") + (key or b""))
    digest.update(len(value or b"").to_bytes(4, "big") + (value or b""))


def cached_points(cache: Path) -> list[int]:
    """Record counts cached for this code's pipeline version (a snapshot of another one
    would be refused by the worker, which would then fold from offset 0)."""
    out = []
    for meta in cache.glob("n*/meta.json"):
        try:
            fields = json.loads(meta.read_text())
            if fields["pipeline_version"] == PIPELINE_VERSION:
                out.append(int(fields["articles"]))
        except (ValueError, KeyError):
            continue
    return sorted(out)


def prepare(log: Path, articles: int, cache: Path, save_every: int,
            save_at: tuple[int, ...] = ()) -> Path:
    """The cached state after the first ``articles`` records (made, or resumed, if needed)."""
    settings = settings_for()
    topic = settings.articles
    target = cache / f"n{articles}"
    if articles in cached_points(cache):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    below = [n for n in cached_points(cache) if n < articles]
    live = cache / "live-cold"
    events_path = cache / "events.partial"
    digest = hashlib.sha256()
    fold_cpu = 0.0
    start = 0
    if below:
        start = below[-1]
        source = cache / f"n{start}"
        found = load_snapshot(source / "snapshot", topic, 0, start, live)
        if found is None:
            raise SystemExit(f"cached snapshot {source} could not be loaded")
        pipeline, last = found
        assert last == start - 1
        pipeline.warm_idle = settings.warm_idle_revisions  # as WorkerState.restore does
        meta = json.loads((source / "meta.json").read_text())
        fold_cpu = float(meta["fold_cpu_s"])
        shutil.copyfile(source / "events.bin", events_path)
        log_line("resuming the fold", cached=start, target=articles)
    else:
        cold = RocksColdStore.empty(live)
        pipeline = Pipeline(cold=cold, warm_idle=settings.warm_idle_revisions)  # as the worker
        events_path.unlink(missing_ok=True)
    every = set(range(save_every, articles, save_every)) if save_every > 0 else set()
    points = sorted(n for n in every | set(save_at) | {articles} if start < n <= articles)
    records = iter_records_from_files([log], topic, articles)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    counts = {"events": 0, "dead_letters": 0}
    with events_path.open("ab") as events:
        for key, value, position in records:
            digest_record(digest, key, value)
            if position.offset < start:
                continue  # folded in the cached state already
            outcome = handle_record(pipeline, key, value, position,
                                    max_bytes=settings.max_article_bytes)
            if outcome.dead_letter is not None:
                letter = outcome.dead_letter
                write_event(events, DEAD, (letter.key or "").encode(), canonical_bytes(letter))
                counts["dead_letters"] += 1
            for event in outcome.events:
                story = event.story_id if isinstance(event, StoryUpdated) else event.survivor_id
                write_event(events, UPDATES, story.encode(), canonical_bytes(event))
                counts["events"] += 1
            done = position.offset + 1
            if done % 1000 == 0:
                cpu = time.process_time() - cpu0
                log_line("folded", records=done, cpu_s=round(cpu, 1),
                         per_cpu_s=round((done - start) / max(cpu, 1e-9), 1),
                         wall_s=round(time.perf_counter() - wall0, 1), rss_mb=rss_mb())
            if done in points:
                events.flush()
                save_point(pipeline, cache, done, log, topic, events_path,
                           fold_cpu + time.process_time() - cpu0, digest.hexdigest(), counts,
                           start)
    if not (target / "meta.json").is_file():
        raise SystemExit(f"{log} holds fewer than {articles} articles")
    if isinstance(pipeline.cold_store, RocksColdStore):
        pipeline.cold_store.close()
    shutil.rmtree(live, ignore_errors=True)
    events_path.unlink(missing_ok=True)
    return target


def save_point(pipeline: Pipeline, cache: Path, done: int, log: Path, topic: str,
               events_path: Path, fold_cpu: float, records_sha256: str,
               counts: dict[str, int], start: int) -> None:
    target = cache / f"n{done}"
    scratch = cache / f".n{done}.tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.perf_counter()
    path = write_snapshot(pipeline, scratch / "snapshot", topic, 0)
    write_s = time.perf_counter() - started
    shutil.copyfile(events_path, scratch / "events.bin")
    meta = {
        "articles": done, "log": str(log), "topic": topic,
        "pipeline_version": pipeline.pipeline_version,
        "fold_cpu_s": round(fold_cpu, 1), "snapshot_bytes": path.stat().st_size,
        "snapshot_write_s": round(write_s, 2), "resumed_from": start,
        "records_sha256": records_sha256,
        "stories": len(pipeline.story_ids), "frozen": pipeline.frozen_story_count,
        "events_this_run": counts["events"], "dead_letters_this_run": counts["dead_letters"],
        "rss_mb": rss_mb(), "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (scratch / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    log_line("saved", point=done, snapshot_mb=round(meta["snapshot_bytes"] / 1e6, 1),
             write_s=meta["snapshot_write_s"], fold_cpu_s=meta["fold_cpu_s"])


# --- 2-5. the broker, the worker, the kills, the checks -----------------------------------


class RestartSupervisor(Supervisor):
    """The chaos harness's supervisor, starting ``storyline worker --single`` with faust's
    INFO log (partition assignment times), or with ``staged`` the default ``storyline
    worker`` (the stage supervisor, an extract process per stripe and the fold), and
    remembering when each process started (for the staged worker, each stage process too:
    its start time from ``/proc``, sampled every 50 ms)."""

    def __init__(self, env: dict[str, str], logs: Path, faust_loglevel: str,
                 staged: bool = False) -> None:
        super().__init__(env, logs)
        self.faust_loglevel = faust_loglevel
        self.staged = staged
        self.started_at: dict[int, float] = {}
        self.pids: dict[int, int] = {}  # incarnation -> the supervisor's pid
        # incarnation -> stage process pid -> (stage, start time)
        self.stages: dict[int, dict[int, tuple[str, float]]] = {}
        self._watching = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self.incarnation += 1
        self.started_at[self.incarnation] = time.time()
        command = ([*STORYLINE, "worker"] if self.staged else
                   [*STORYLINE, "worker", "--single", "--faust-loglevel", self.faust_loglevel])
        with self.log_of(self.incarnation).open("wb") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        self.pids[self.incarnation] = self.process.pid
        self.stages.setdefault(self.incarnation, {})
        if self.staged and self._watcher is None:
            self._watching.set()
            self._watcher = threading.Thread(target=self._watch_stages, daemon=True)
            self._watcher.start()

    def _watch_stages(self) -> None:
        clock = os.sysconf("SC_CLK_TCK")
        while self._watching.is_set():
            incarnations = {pid: inc for inc, pid in self.pids.items()}
            for pid, (parent, stage) in _stage_processes(self.env).items():
                inc = incarnations.get(parent)
                if inc is None or pid in self.stages[inc]:
                    continue
                try:
                    ticks = int((Path(f"/proc/{pid}/stat").read_text()
                                 .rsplit(")", 1)[-1].split())[19])
                    uptime = float(Path("/proc/uptime").read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    continue
                self.stages[inc][pid] = (stage, time.time() - (uptime - ticks / clock))
            time.sleep(0.05)

    def stage_pid(self, stage: str, incarnation: int | None = None) -> int | None:
        found = self.stages.get(incarnation or self.incarnation, {})
        return next((pid for pid, (name, _) in found.items() if name == stage), None)

    def stage_started(self, stage: str, incarnation: int) -> list[float]:
        return sorted(at for name, at in self.stages.get(incarnation, {}).values()
                      if name == stage)

    def kill_and_restart(self, target: str = "worker") -> None:
        """As the harness's, and for the staged worker also "fold" or "extract": SIGKILL
        that stage process alone; the stage supervisor starts it again on its own while the
        others run on (the kill is then in ``restarted_in_place``, the incarnation stays)."""
        if target not in ("fold", "extract"):
            super().kill_and_restart(target)
            return
        assert self.process is not None
        pids = sorted(pid for pid, stage in self.children().items() if stage == target)
        if not pids:
            raise RuntimeError(f"no {target} process to kill")
        self.kill_targets[target] += 1
        pid = self.rng.choice(pids)
        os.kill(pid, signal.SIGKILL)
        killed = time.time()
        deadline = time.monotonic() + 60
        while not any(stage == target and other not in pids
                      for other, stage in self.children().items()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stage supervisor did not start {target} again")
            time.sleep(0.05)
        self.restarted_in_place.append((self.incarnation, killed))

    def stop(self) -> None:
        super().stop()
        self._watching.clear()

    def event(self, name: str, incarnation: int | None = None, after: float | None = None
              ) -> dict[str, Any] | None:
        """The first ``name`` event of an incarnation's log (logged after ``after``)."""
        found = self.events(name, incarnation or self.incarnation, after)
        return found[0] if found else None

    def events(self, name: str, incarnation: int, after: float | None = None
               ) -> list[dict[str, Any]]:
        return [found for found in _json_lines(self.log_of(incarnation))
                if found.get("event") == name and (after is None or stamp(found) > after)]


def stamp(event: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()


def faust_line_at(log: Path, marker: str) -> float | None:
    """When faust first logged a line containing ``marker`` (its INFO log, local time)."""
    from datetime import datetime

    for line in log.read_text(errors="replace").splitlines():
        if marker not in line:
            continue
        if line.startswith("[") and "]" in line:
            try:
                return datetime.strptime(line[1:line.index("]")],
                                         "%Y-%m-%d %H:%M:%S,%f").timestamp()
            except ValueError:
                continue
    return None


def wait_until(check: Any, supervisor: RestartSupervisor, timeout: float, what: str,
               poll: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.ensure_running()
        found = check()
        if found:
            return found
        time.sleep(poll)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s (logs: {supervisor.logs})")


def committed_reaches(settings: Settings, end: int) -> Any:
    from storyline.commands.status import worker_lag

    def check() -> bool:
        try:
            _, committed = asyncio.run(worker_lag(settings))
        except Exception:  # noqa: BLE001 - the broker may be busy; ask again
            return False
        return committed >= end

    return check


Send = tuple[str, bytes | None, bytes | None, int | None]  # topic, key, value, partition


async def _send_all(settings: Settings, sends: Iterator[Send], *, batch_bytes: int) -> None:
    """Produce every record of ``sends`` in order (idempotent, acks=all), 2,000 in flight."""
    from aiokafka import AIOKafkaProducer

    from storyline.kafka.security import kafka_options

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                enable_idempotence=True, linger_ms=10,
                                max_batch_size=batch_bytes,
                                max_request_size=MAX_REQUEST_BYTES,
                                **kafka_options(settings))
    await producer.start()
    try:
        pending = []
        for topic, key, value, partition in sends:
            pending.append(await producer.send(topic, value, key=key, partition=partition))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def produce_articles(settings: Settings, records: Iterator[tuple[bytes | None,
                                                                       bytes | None]]) -> int:
    count = 0

    def sends() -> Iterator[Send]:
        nonlocal count
        for key, value in records:
            count += 1
            yield settings.articles, key, value, 0

    await _send_all(settings, sends(), batch_bytes=256 * 1024)
    return count


async def produce_events(settings: Settings, events_path: Path) -> dict[str, int]:
    """What the worker published for the history: StoryUpdated / StoryMerged on
    story-updates (keyed by story), dead letters (the whole-page checkpoints on story-pages
    are left out: nothing in a restart reads them)."""
    counts = {"updates": 0, "dead_letters": 0, "bytes": 0}

    def sends() -> Iterator[Send]:
        for kind, key, value in read_events_file(events_path):
            counts["updates" if kind == UPDATES else "dead_letters"] += 1
            counts["bytes"] += len(value)
            yield (settings.story_updates if kind == UPDATES else settings.dead_letters,
                   key, value, None)

    await _send_all(settings, sends(), batch_bytes=1024 * 1024)
    return counts


async def commit_group(settings: Settings, offset: int, pipeline_version: str) -> None:
    """The worker group's commit after the history, as the worker writes it."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from storyline.commands.status import worker_group
    from storyline.kafka.security import kafka_options
    from storyline.stream.offsets import commit_payload

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                group_id=worker_group(settings), enable_auto_commit=False,
                                **kafka_options(settings))
    await consumer.start()
    try:
        tp = TopicPartition(settings.articles, 0)
        consumer.assign([tp])
        await consumer.commit(commit_payload({tp: offset}, pipeline_version))
    finally:
        await consumer.stop()


async def updates_ends(settings: Settings) -> dict[int, int]:
    from storyline.stream.logreader import end_offsets

    return await end_offsets(settings.bootstrap_servers, settings.story_updates)


async def first_update_after(settings: Settings, starts: dict[int, int], beyond: int = -1
                             ) -> float | None:
    """The produce time (record timestamp) of the first StoryUpdated on story-updates after
    ``starts`` (per partition) caused by a record past offset ``beyond``, or None."""
    from storyline.stream.logreader import read_partition

    ends = await updates_ends(settings)
    first: float | None = None
    for partition, end in ends.items():
        async for record in read_partition(settings.bootstrap_servers, settings.story_updates,
                                           partition, start=starts.get(partition, 0),
                                           stop=end):
            event = decode_any(record.value) if record.value else None
            if isinstance(event, StoryUpdated) and event.cause.offset > beyond:
                when = record.timestamp / 1000
                first = when if first is None else min(first, when)
                break
    return first


def last_published_offset(log: Path, before: float | None = None) -> int:
    """The highest source offset whose revision a worker's log says it published (-1),
    before ``before`` when given."""
    top = -1
    for event in _json_lines(log):
        if (event.get("event") == "story_updated" and isinstance(event.get("offset"), int)
                and (before is None or stamp(event) <= before)):
            top = max(top, int(event["offset"]))
    return top


def first_revision_beyond(log: Path, beyond: int) -> float | None:
    """When a worker's log first shows a revision caused by a record past ``beyond``."""
    for event in _json_lines(log):
        if (event.get("event") == "story_updated" and isinstance(event.get("offset"), int)
                and int(event["offset"]) > beyond):
            return stamp(event)
    return None


def restart_figures(supervisor: RestartSupervisor, incarnation: int, since: float
                    ) -> dict[str, Any]:
    """Where a start's time went, from its log: ``since`` (kill or start) -> process start ->
    partitions assigned -> state rebuilt -> first StoryUpdated."""
    log = supervisor.log_of(incarnation)
    ready = supervisor.event("state_ready", incarnation)
    first = _first_revision_time(log)
    assigned = faust_line_at(log, "Setting newly assigned partitions")
    booted = faust_line_at(log, "[^Worker]: Starting")
    out: dict[str, Any] = {
        "to_first_revision_s": None if first is None else round(first - since, 2),
        "process_start_s": round(supervisor.started_at[incarnation] - since, 2),
        # imports and set-up until faust starts its services
        "to_faust_start_s": None if booted is None else round(booted - since, 2),
        "to_partitions_assigned_s": None if assigned is None else round(assigned - since, 2),
    }
    out.update(rebuild_figures(ready, first, since))
    return out


def rebuild_figures(ready: dict[str, Any] | None, first: float | None, since: float,
                    rebuilding: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rebuild's figures from its ``state_ready`` event, in seconds from ``since``; with
    the fold stage's ``rebuild_started`` (logged after the snapshot load), the load and the
    refold apart."""
    if ready is None:
        return {}
    ready_at = stamp(ready)
    rebuild = float(ready["seconds"])
    out: dict[str, Any] = {
        "rebuild_source": ready.get("source"),
        "rebuild_s": rebuild,
        "rebuild_from_offset": ready.get("from_offset"),
        "rebuild_committed": ready.get("committed"),
        "rebuild_records_folded": ready.get("records_folded"),
        "to_rebuild_start_s": round(ready_at - rebuild - since, 2),
        "to_state_ready_s": round(ready_at - since, 2),
        "ready_to_first_revision_s": None if first is None else round(first - ready_at, 2),
    }
    if rebuilding is not None:
        out["snapshot_load_s"] = round(stamp(rebuilding) - (ready_at - rebuild), 2)
        out["refold_s"] = round(ready_at - stamp(rebuilding), 2)
    return out


def worker_pid(supervisor: RestartSupervisor) -> int | None:
    """The process holding the state: the worker, or the staged worker's fold process
    (waited for a moment: the stage supervisor starts it after asking the broker)."""
    if not supervisor.staged:
        return supervisor.process.pid if supervisor.process else None
    deadline = time.monotonic() + 10
    while (pid := supervisor.stage_pid("fold")) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid


def staged_figures(supervisor: RestartSupervisor, incarnation: int, since: float
                   ) -> dict[str, Any]:
    """Where a staged worker's start went, in seconds from ``since`` (kill or start), from
    ``/proc`` and the stage processes' log: the stage supervisor started -> the fold process
    started -> its state directory locked (imports done) -> its rebuild began (state_ready
    minus its seconds) -> snapshot loaded (``rebuild_started``) -> records after the
    snapshot refolded from the articles log (``state_ready``) -> facts seeked
    (``fold_started``) -> first StoryUpdated; and the extract processes' start and
    ``extract_started`` beside it."""
    def at(event: dict[str, Any] | None) -> float | None:
        return None if event is None else round(stamp(event) - since, 2)

    # a stage started again by its supervisor logs into the same incarnation's log: only
    # what came after ``since`` counts
    log = supervisor.log_of(incarnation)
    first = _first_revision_time(log, after=since)
    ready = supervisor.event("state_ready", incarnation, since)
    rebuilding = supervisor.event("rebuild_started", incarnation, since)
    folds = [t for t in supervisor.stage_started("fold", incarnation) if t > since]
    extracts = [t for t in supervisor.stage_started("extract", incarnation) if t > since]
    extract_started = supervisor.events("extract_started", incarnation, since)
    in_place = supervisor.started_at[incarnation] < since
    out: dict[str, Any] = {
        "to_first_revision_s": None if first is None else round(first - since, 2),
        "restarted_in_place": in_place,
        "process_start_s": None if in_place else round(
            supervisor.started_at[incarnation] - since, 2),
        "to_fold_process_start_s": round(folds[0] - since, 2) if folds else None,
        "to_extract_processes_start_s": [round(t - since, 2) for t in extracts],
        "to_extract_started_s": [at(e) for e in extract_started],
        "extract_from_offsets": [e.get("from_offset") for e in extract_started],
        # imports done, state directory locked, FoldStage built: its operations server
        # (the worker's port; the extract stripes listen on the ones after it)
        "to_fold_set_up_s": at(next((e for e in supervisor.events(
            "operations_endpoints", incarnation, since) if str(e.get("url", "")).endswith(
                f":{supervisor.env.get('STORYLINE_WORKER_METRICS_PORT')}/metrics")), None)),
        "to_state_lock_s": at(supervisor.event("state_lock_taken", incarnation, since)),
        "state_lock_waited": supervisor.event("state_lock_wait", incarnation,
                                              since) is not None,
        "to_rebuild_started_s": at(rebuilding),
        "to_fold_started_s": at(supervisor.event("fold_started", incarnation, since)),
    }
    out.update(rebuild_figures(ready, first, since, rebuilding))
    return out


async def commit_stage_groups(settings: Settings, offset: int, pipeline_version: str
                              ) -> dict[str, Any]:
    """What the staged worker would have committed after folding the history through the
    facts topic: every extract stripe's group at ``offset`` (``extract_stage``'s own commit:
    source offset, no stage marker), so no stripe extracts the history again; the fold's
    (the worker's group) articles commit at ``offset`` and, per facts partition, the end
    of that partition (0 here: the facts topic starts empty), with the fold's stage marker.
    The fold resumes each facts partition there and its merge starts at the state's next
    source offset, ``offset``; the extract stripes write offset ``offset`` on at facts
    offset 0 of their partitions."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from storyline.commands.status import worker_group
    from storyline.kafka.security import kafka_options
    from storyline.stream.extract_stage import extract_group
    from storyline.stream.logreader import end_offsets
    from storyline.stream.offsets import commit_payload

    facts_ends = await end_offsets(settings.bootstrap_servers, settings.facts)
    stripes = len(facts_ends)
    source = TopicPartition(settings.articles, 0)
    commits: list[tuple[str, dict[TopicPartition, Any]]] = [
        (extract_group(settings, stripe, stripes),
         commit_payload({source: offset}, pipeline_version)) for stripe in range(stripes)]
    fold_due = {source: offset, **{TopicPartition(settings.facts, p): end
                                   for p, end in facts_ends.items()}}
    commits.append((worker_group(settings), commit_payload(
        fold_due, pipeline_version, stage="fold", moved_at=time.time())))
    for group, payload in commits:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                    group_id=group, enable_auto_commit=False,
                                    **kafka_options(settings))
        await consumer.start()
        try:
            consumer.assign(list(payload))
            await consumer.commit(payload)
        finally:
            await consumer.stop()
    return {"stripes": stripes, "facts_ends": facts_ends, "groups": [g for g, _ in commits]}


def run(args: argparse.Namespace, prepared: Path) -> dict[str, Any]:
    from storyline.kafka.broker import BrokerConfig, LocalBroker, free_port
    from storyline.replay import published_updates
    from storyline.stream.worker import state_dir

    meta = json.loads((prepared / "meta.json").read_text())
    n, m, k, per_kill = args.articles, args.tail, args.kills, args.per_kill
    staged = args.staged
    # what each round SIGKILLs: the single worker, or (staged) in turn each of the targets
    targets = list(args.kill_targets) if staged else ["worker"]
    rounds = k * len(targets)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-restart-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    report: dict[str, Any] = {
        "worker": "storyline worker (staged: extract x N + fold)" if staged
        else "storyline worker --single",
        "kill_targets": targets,
        "articles_history_N": n, "tail_M": m, "kills_K": k, "records_per_kill": per_kill,
        "kill_round_rate": args.rate, "settle_s": args.settle, "seed": args.seed,
        "log": str(args.log),
        "workdir": str(workdir), "prepared": {key: meta[key] for key in (
            "fold_cpu_s", "snapshot_bytes", "snapshot_write_s", "stories", "frozen",
            "pipeline_version", "rss_mb")},
        "load_average_start": os.getloadavg(),
    }
    broker = LocalBroker(BrokerConfig.private(workdir / "broker", heap="768m"))
    settings = settings_for(broker.bootstrap, workdir / "data")
    topic = settings.articles
    env = dict(os.environ)
    env.update({
        "STORYLINE_BOOTSTRAP_SERVERS": broker.bootstrap,
        "STORYLINE_TOPIC_PREFIX": PREFIX,
        "STORYLINE_DATA_DIR": str(workdir / "data"),
        "STORYLINE_WORKER_METRICS_PORT": str(free_port()),
    })
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    supervisor = RestartSupervisor(env, logs, args.faust_loglevel, staged=staged)
    supervisor.rng = random.Random(args.seed + 1)  # which extract stripe, if one is killed
    figures_of = staged_figures if staged else restart_figures
    total = n + m + rounds * per_kill
    try:
        started = time.perf_counter()
        broker.start()
        report["broker_start_s"] = round(time.perf_counter() - started, 2)
        subprocess.run([*STORYLINE, "topics", "apply"], env=env, check=True,
                       capture_output=True, timeout=300)

        # the log: N + M records now (offsets 0..N+M-1), the kill rounds' later
        digest = hashlib.sha256()
        after: list[tuple[bytes | None, bytes | None]] = []  # offsets >= N

        def first_records() -> Iterator[tuple[bytes | None, bytes | None]]:
            for key, value, position in iter_records_from_files([args.log], topic, total):
                if position.offset < n:
                    digest_record(digest, key, value)
                else:
                    after.append((key, value))
                if position.offset < n + m:
                    yield key, value

        started = time.perf_counter()
        produced = asyncio.run(produce_articles(settings, first_records()))
        report["produce_articles_s"] = round(time.perf_counter() - started, 2)
        if digest.hexdigest() != meta["records_sha256"]:
            raise SystemExit("the log's first N records are not the ones the cache folded")
        if produced != n + m or len(after) != m + rounds * per_kill:
            raise SystemExit(f"{args.log} holds fewer than {total} articles")
        started = time.perf_counter()
        report["history_events"] = asyncio.run(produce_events(settings,
                                                              prepared / "events.bin"))
        report["produce_history_events_s"] = round(time.perf_counter() - started, 2)
        if staged:
            report["stage_commits_before"] = asyncio.run(commit_stage_groups(
                settings, n, meta["pipeline_version"]))
        else:
            asyncio.run(commit_group(settings, n, meta["pipeline_version"]))

        target = snapshot_dir(state_dir(settings) / "snapshots", topic, 0)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(prepared / "snapshot", target, copy_function=os.link)

        # 3. first start from the snapshot, catch up the M tail records
        log_line("starting the worker", history=n, tail=m)
        supervisor.start()
        began = supervisor.started_at[1]
        wait_until(lambda: supervisor.event("state_ready"), supervisor, 3600, "state rebuilt")
        rss_loaded = rss_mb(worker_pid(supervisor))
        wait_until(lambda: _first_revision_time(supervisor.log_of(1)), supervisor, 600,
                   "first revision")
        wait_until(committed_reaches(settings, n + m), supervisor, 3600, "tail caught up",
                   poll=0.5)
        caught_up = time.time()
        first = figures_of(supervisor, 1, began)
        first.update({
            "catch_up_tail_s": round(caught_up - began, 2),
            "tail_records_per_s_after_ready": round(
                m / max(1e-9, caught_up - began - first.get("to_state_ready_s", 0.0)), 2),
            "rss_mb_after_load": rss_loaded,
            "rss_mb_after_tail": rss_mb(worker_pid(supervisor)),
        })
        report["first_start"] = first
        log_line("first start", **{key: first[key] for key in (
            "rebuild_source", "rebuild_s", "to_first_revision_s", "catch_up_tail_s")})

        # 4. K rounds: records arriving, SIGKILL at a random moment, restart
        kills: list[dict[str, Any]] = []
        for round_no in range(rounds):
            target = targets[round_no % len(targets)]
            settle = time.monotonic() + args.settle  # a quiet spell before the round
            while time.monotonic() < settle:
                supervisor.ensure_running()
                time.sleep(0.2)
            values = [(key or b"", value or b"") for key, value in
                      after[m + round_no * per_kill: m + (round_no + 1) * per_kill]]
            done, errors = threading.Event(), []  # type: ignore[var-annotated]
            window = per_kill / args.rate
            kill_after = rng.uniform(0.15 * window, 0.6 * window)
            producer = threading.Thread(target=_produce_paced, daemon=True, args=(
                broker.bootstrap, topic, values, args.rate, done, errors))
            producer.start()
            until = time.monotonic() + kill_after
            while time.monotonic() < until:
                supervisor.ensure_running()
                time.sleep(0.05)
            in_place_before = len(supervisor.restarted_in_place)
            supervisor.kill_and_restart(target)
            incarnation = supervisor.incarnation
            if len(supervisor.restarted_in_place) > in_place_before:
                killed = supervisor.restarted_in_place[-1][1]
                beyond = last_published_offset(supervisor.log_of(incarnation), before=killed)
            else:
                killed = supervisor.killed_at[incarnation]
                beyond = last_published_offset(supervisor.log_of(incarnation - 1))
            starts = asyncio.run(updates_ends(settings))
            wait_until(lambda inc=incarnation, t=killed: supervisor.event("state_ready", inc, t),
                       supervisor, 3600, "state rebuilt after a kill")
            rss_loaded = rss_mb(worker_pid(supervisor))
            wait_until(lambda inc=incarnation, top=beyond: first_revision_beyond(
                           supervisor.log_of(inc), top),
                       supervisor, 1200, "first new revision after a kill")
            done.wait(timeout=3600)
            if errors:
                raise errors[0]
            end = n + m + (round_no + 1) * per_kill
            wait_until(committed_reaches(settings, end), supervisor, 3600,
                       "caught up after a kill", poll=0.5)
            on_topic = asyncio.run(first_update_after(settings, starts))
            new_on_topic = asyncio.run(first_update_after(settings, starts, beyond))
            new_in_log = first_revision_beyond(supervisor.log_of(incarnation), beyond)
            figures = figures_of(supervisor, incarnation, killed)
            figures.update({
                "target": target,
                "killed_after_s": round(kill_after, 2),
                "kill_to_first_revision_on_topic_s": None if on_topic is None
                else round(on_topic - killed, 2),
                # first revision of a record the killed worker had not published yet
                "last_offset_published_before_kill": beyond,
                "kill_to_first_new_revision_s": None if new_in_log is None
                else round(new_in_log - killed, 2),
                "kill_to_first_new_revision_on_topic_s": None if new_on_topic is None
                else round(new_on_topic - killed, 2),
                "rss_mb_after_load": rss_loaded,
                "caught_up_s": round(time.time() - killed, 2),
            })
            kills.append(figures)
            log_line("kill", round=round_no + 1, **{key: figures.get(key) for key in (
                "target", "to_first_revision_s", "kill_to_first_new_revision_s",
                "to_fold_process_start_s" if staged else "to_partitions_assigned_s",
                "rebuild_source", "rebuild_s", "rebuild_records_folded")})
        report["kills"] = kills
        report["kill_to_first_revision_s"] = [kill["to_first_revision_s"] for kill in kills]
        report["kill_to_first_new_revision_s"] = [kill["kill_to_first_new_revision_s"]
                                                  for kill in kills]
        supervisor.stop()

        # 5. checks
        log_line("checking")
        from storyline.commands.status import worker_lag

        report["log_end"], report["committed"] = asyncio.run(worker_lag(settings))
        chaos = ChaosReport(profile="restart", seed=args.seed)
        _check_published(chaos, settings)
        report["published"] = {key: getattr(chaos, key) for key in (
            "published_revisions", "distinct_revisions", "conflicting_copies",
            "revision_gaps", "articles_missing")}
        stages_ok = True
        if staged:
            # every extract stripe's group at the end of the articles log, the fold's at
            # the end of every facts partition (as the chaos harness checks)
            report["stage_commits"] = asyncio.run(_stage_commits(settings))
            stages_ok = all(committed == end
                            for committed, end in report["stage_commits"].values())
            report["kill_targets_hit"] = dict(supervisor.kill_targets)
        whole = args.verify == "all" or (args.verify == "auto" and n <= 20000)
        started = time.perf_counter()
        report["verify"] = verify_tail(settings, prepared, n, after, published_updates, whole)
        report["verify"]["seconds"] = round(time.perf_counter() - started, 1)
        if args.replay_verify:
            started = time.perf_counter()
            replay = subprocess.run([*STORYLINE, "replay", "--verify"], env=env,
                                    capture_output=True, text=True, timeout=4 * 3600)
            report["replay_verify"] = {"ok": replay.returncode == 0,
                                       "seconds": round(time.perf_counter() - started, 1),
                                       "output": (replay.stdout + replay.stderr)[-600:]}
        report["ok"] = bool(
            report["verify"]["ok"] and report["committed"] == report["log_end"] == total
            and not (chaos.conflicting_copies or chaos.revision_gaps or chaos.articles_missing)
            and stages_ok
            and report.get("replay_verify", {"ok": True})["ok"])
    finally:
        supervisor.stop()
        broker.stop(wipe=False)
        report["load_average_end"] = os.getloadavg()
    return report


def verify_tail(settings: Settings, prepared: Path, n: int,
                after: list[tuple[bytes | None, bytes | None]], published_updates: Any,
                whole: bool = True) -> dict[str, Any]:
    """``replay.verify`` against the history's events (the prefix fold) plus the records
    after the snapshot folded in process from the cached snapshot. Not ``whole``: only the
    revisions after the snapshot, compared byte for byte with that fold, and none of them
    missing (``verify`` rebuilds every story's pages from revision 1, minutes at 10^5)."""
    topic = settings.articles
    with tempfile.TemporaryDirectory(prefix="bench-restart-verify-") as scratch:
        started = time.perf_counter()
        found = load_snapshot(prepared / "snapshot", topic, 0, n, Path(scratch) / "cold")
        if found is None:
            raise SystemExit("the cached snapshot could not be loaded")
        pipeline, _ = found
        pipeline.warm_idle = settings.warm_idle_revisions
        load_s = time.perf_counter() - started
        rebuilt = RebuiltLog(pipeline=pipeline)
        for kind, _key, value in read_events_file(prepared / "events.bin"):
            if kind == UPDATES and whole:
                event = decode_any(value)
                if isinstance(event, StoryUpdated):
                    rebuilt.revisions[(event.story_id, event.revision)] = event
        history = len(rebuilt.revisions)
        started = time.perf_counter()
        tail_revisions: dict[tuple[str, int], StoryUpdated] = {}
        for offset, (key, value) in enumerate(after, start=n):
            outcome = handle_record(pipeline, key, value, LogPosition(topic, 0, offset),
                                    max_bytes=settings.max_article_bytes)
            for event in outcome.events:
                if isinstance(event, StoryUpdated):
                    tail_revisions[(event.story_id, event.revision)] = event
        fold_s = time.perf_counter() - started
        rebuilt.revisions.update(tail_revisions)
        if isinstance(pipeline.cold_store, RocksColdStore):
            pipeline.cold_store.close()

    async def collect() -> list[StoryUpdated]:
        return [update async for update in published_updates(settings)]

    published = asyncio.run(collect())
    after_snapshot = [u for u in published if u.cause.offset >= n]
    if whole:
        result = verify(rebuilt, published)
    else:
        result = Verification()
        seen = set()
        for update in after_snapshot:
            key = (update.story_id, update.revision)
            result.checked += 1
            expected = tail_revisions.get(key)
            if key in seen:
                result.redeliveries += 1
            elif expected is None:
                result.unexpected.append(f"{key[0]}@{key[1]}")
            elif canonical_bytes(expected) != canonical_bytes(update):
                result.mismatched.append(f"{key[0]}@{key[1]}")
            else:
                result.identical += 1
            seen.add(key)
        reached = max((u.cause.offset for u in published), default=-1)
        result.missing = [f"{key[0]}@{key[1]}" for key, expected in
                          sorted(tail_revisions.items())
                          if key not in seen and expected.cause.offset <= reached]
    same = sum(1 for u in after_snapshot
               if (expected := tail_revisions.get((u.story_id, u.revision))) is not None
               and expected.content_hash == u.content_hash)
    return {
        "scope": "every revision" if whole else "revisions after the snapshot",
        "ok": result.ok, "checked": result.checked, "identical": result.identical,
        "redeliveries": result.redeliveries, "mismatched": result.mismatched[:10],
        "unexpected": result.unexpected[:10], "missing": result.missing[:10],
        "mismatched_count": len(result.mismatched), "missing_count": len(result.missing),
        "unexpected_count": len(result.unexpected),
        "history_revisions": history, "tail_revisions_rebuilt": len(tail_revisions),
        "published_after_snapshot": len(after_snapshot),
        "published_after_snapshot_same_hash": same,
        "in_process_snapshot_load_s": round(load_s, 2),
        "in_process_tail_fold_s": round(fold_s, 2),
    }


def load_breakdown(prepared: Path, n: int) -> dict[str, Any]:
    """Where a snapshot load's time goes, in process, step by step as ``load_snapshot``
    takes them: read the file, sha256 the payload, zlib, unpickle, restore the cold store
    from its checkpoint (links), park the story states set apart (format 2)."""
    import pickle
    import zlib

    from storyline.stream.snapshots import (
        _read_header,
        _stories_set_apart,
        cold_checkpoint_path,
    )

    directory = prepared / "snapshot"
    path = directory / f"{n - 1:020d}.snap"
    out: dict[str, Any] = {"snapshot_bytes": path.stat().st_size, "rss_mb_before": rss_mb()}
    cpu0 = time.process_time()
    started = time.perf_counter()
    with path.open("rb") as handle:
        header = _read_header(handle)
        payload = handle.read()
    if header is None:
        raise SystemExit(f"{path}: no snapshot header")
    out["read_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    hashlib.sha256(payload).hexdigest()
    out["sha256_s"] = round(time.perf_counter() - started, 2)
    apart = _stories_set_apart(payload[header.payload_bytes:], header.stories) or []
    out["stories_apart"] = len(apart)
    out["stories_apart_bytes"] = header.stories_bytes
    started = time.perf_counter()
    raw = zlib.decompress(payload[:header.payload_bytes])
    out["zlib_s"] = round(time.perf_counter() - started, 2)
    out["pickle_bytes"] = len(raw)
    started = time.perf_counter()
    pipeline = pickle.loads(raw)
    out["unpickle_s"] = round(time.perf_counter() - started, 2)
    del raw, payload
    with tempfile.TemporaryDirectory(prefix="bench-restart-load-") as scratch:
        started = time.perf_counter()
        store = RocksColdStore.restored(cold_checkpoint_path(directory, n - 1),
                                        Path(scratch) / "cold")
        pipeline.attach_cold_store(store)
        out["cold_restore_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        for story_id, packed in apart:
            pipeline.park(story_id, packed)
        out["park_s"] = round(time.perf_counter() - started, 2)
        # what the first revision of the biggest story set apart pays on top
        if apart:
            biggest = max(apart, key=lambda item: len(item[1]))
            started = time.perf_counter()
            pipeline.story(biggest[0])
            out["thaw_biggest_s"] = round(time.perf_counter() - started, 2)
            out["thaw_biggest_bytes"] = len(biggest[1])
        store.close()
    out["cpu_s"] = round(time.process_time() - cpu0, 2)
    out["rss_mb_after"] = rss_mb()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000, help="N: articles of history")
    parser.add_argument("--log", type=Path, default=Path("/tmp/synth/synthetic-100000.jsonl"))
    parser.add_argument("--tail", type=int, default=200, help="M: records after the snapshot")
    parser.add_argument("--kills", type=int, default=3, help="K")
    parser.add_argument("--per-kill", type=int, default=30,
                        help="records produced during each kill round")
    parser.add_argument("--rate", type=float, default=3.0, help="records/s in a kill round")
    parser.add_argument("--settle", type=float, default=20.0,
                        help="quiet seconds before each kill round (the worker snapshots "
                             "its state after a 2 s quiet timer tick; 0: a crash loop)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench-restart-cache"))
    parser.add_argument("--save-every", type=int, default=10000,
                        help="also cache the fold every this many records (0: only at N)")
    parser.add_argument("--save-at", type=int, nargs="*", default=[2000],
                        help="and at these record counts")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--load-breakdown", action="store_true",
                        help="only time the steps of loading the cached snapshot, in process")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--faust-loglevel", default="info")
    parser.add_argument("--staged", action="store_true",
                        help="run the default staged worker (`storyline worker`: extract x N "
                             "+ fold) instead of `storyline worker --single`")
    parser.add_argument("--kill-targets", nargs="+", default=["fold", "tree"],
                        choices=("fold", "extract", "tree"),
                        help="with --staged: what the rounds SIGKILL, in turn, --kills "
                             "times each (fold or extract: that stage process alone, which "
                             "the stage supervisor starts again; tree: the "
                             "supervisor and every stage process at once)")
    parser.add_argument("--verify", choices=("auto", "all", "tail"), default="auto",
                        help="replay.verify over every revision, or only those after the "
                             "snapshot (auto: all up to N = 20,000)")
    parser.add_argument("--replay-verify", action="store_true",
                        help="also run `storyline replay --verify` (refolds from offset 0)")
    args = parser.parse_args()
    prepared = prepare(args.log, args.articles, args.cache, args.save_every,
                       tuple(args.save_at))
    if args.load_breakdown:
        print(json.dumps(load_breakdown(prepared, args.articles), indent=2))
        return 0
    if args.prepare_only:
        print(json.dumps(json.loads((prepared / "meta.json").read_text()), indent=2))
        return 0
    report = run(args, prepared)
    print(json.dumps(report, indent=2))
    return 0 if report.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
