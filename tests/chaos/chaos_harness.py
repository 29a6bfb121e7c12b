"""Chaos runs of the worker on a real broker: SIGKILLs at random moments, broker bounces.

A private single-node broker is started for the run (it is bounced, so it cannot be shared).
Articles are produced at a steady pace from a file while ``storyline worker`` runs as the
subprocess an operator starts; the harness plays the supervisor: it kills the worker with
SIGKILL at random moments (seeded), restarts it at once, and restarts it too if it ever
exits on its own. Snapshots are off unless the profile says otherwise, so every restart
rebuilds from the log: the hard case.

Then it checks what a downstream consumer depends on:
- ``storyline replay --verify`` passes (every published revision reproduced byte for byte);
- no conflicting copies: a (story, revision) published twice is the same bytes;
- no revision gaps: each story's revisions are 1..N;
- every usable article of the log is reflected in a published revision of some story;
- the worker group's committed offset is the end of the articles log;
- no process logged an event at error or critical (a fault the revisions do not show, such
  as a restarted worker whose snapshots all fail, still breaks what operators rely on).

Profiles: ``ci`` (300 articles, 3 kills, 1 bounce; a few minutes) runs in the test suite;
``long`` (all of the file, >= 20 kills, 2 bounces) is run by hand::

    .venv/bin/python tests/chaos/chaos_harness.py --profile long \\
        --articles ../shared/data/timeline17-dev/articles.jsonl

``stages-ci`` and ``stages-long`` run the staged worker (``storyline worker --stage all``:
a supervisor with extract x N and fold as child processes). A SIGKILL there hits, in a
seeded rotation, what an operator's ``kill -9`` can hit:

- the supervisor alone: its stage processes are orphaned and get SIGTERM from the kernel;
  they finish the record in hand (through a broker outage, if one is on) while the
  restarted supervisor starts the next set; the new fold must wait for the old one (the
  state directory's lock) rather than fold beside it;
- one stage process, fold or an extract stripe: the supervisor starts that stage again on
  its own while the others run on (the harness only waits for the new process);
- the whole tree at once (a container's or cgroup's kill).

Besides the checks above, for a staged run: every extract stripe's group has committed the
end of the articles log and the fold has committed the end of every facts partition; and
the report counts the fold processes seen alive at once and the samples in which a fold
outlived its supervisor, so the orphan case is known to have happened.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer

from storyline.domain.events import PubStatus, StoryUpdated
from storyline.domain.upcasting import decode_any
from storyline.kafka.broker import BrokerConfig, LocalBroker
from storyline.processes import alive
from storyline.replay import records_from_files
from storyline.settings import Settings
from storyline.stream.logreader import end_offsets, read_partition

STORYLINE = [sys.executable, "-m", "storyline.cli"]


@dataclass(frozen=True)
class Profile:
    articles: int | None  # None: the whole file
    kills: int
    bounces: int
    rate: float  # articles produced per second
    min_gap: float  # seconds between faults, drawn uniformly in [min_gap, max_gap]
    max_gap: float
    # a kill comes this many seconds at most (drawn uniformly) after the worker it hits has
    # published (or snapshotted, with snapshots); None: min_gap
    kill_jitter: float | None = None
    snapshot_every: int = 0
    session_timeout: float = 6.0
    snapshot_interval: float = 0.0
    warm_idle: int = 2000  # revisions before an idle story goes to the RocksDB cold store
    # arguments of `storyline worker`: with "--stage all" the harness kills the supervisor,
    # a stage process or the whole tree (see Supervisor.kill_and_restart)
    worker_args: tuple[str, ...] = ()
    # STORYLINE_PAGE_PROCESSES: the staged worker's page stage as this many processes
    # beside an assign process (0: pages folded in the fold process)
    page_processes: int = 0

    @property
    def staged(self) -> bool:
        return "--stage" in self.worker_args


PROFILES = {
    # the single-process worker (`storyline worker --single`)
    # (the CI profiles' faults are about as far apart as a restarted worker takes to publish
    # again, so they fall while the articles are still coming in; the kill_jitter keeps
    # each kill at a random moment of the worker's work)
    "ci": Profile(articles=300, kills=3, bounces=1, rate=20.0, min_gap=1.5, max_gap=4.5,
                  kill_jitter=3.0, worker_args=("--single",)),
    "long": Profile(articles=None, kills=24, bounces=2, rate=25.0, min_gap=4.0, max_gap=15.0,
                    worker_args=("--single",)),
    # restarts from snapshots whose cold stores hold most stories (they freeze after 20
    # revisions): the restore path of the durable state, under the same checks
    "snapshots-ci": Profile(articles=300, kills=3, bounces=1, rate=20.0, min_gap=2.0,
                            max_gap=4.5, kill_jitter=4.0, snapshot_every=40,
                            snapshot_interval=2.0, warm_idle=20, worker_args=("--single",)),
    "snapshots-long": Profile(articles=None, kills=20, bounces=2, rate=25.0, min_gap=4.0,
                              max_gap=15.0, snapshot_every=200, snapshot_interval=5.0,
                              warm_idle=100, worker_args=("--single",)),
    # the staged worker (extract x 2 + fold, docs/stages.md): kills rotate over the
    # supervisor alone (its children are orphaned and get SIGTERM), one stage process (the
    # supervisor starts it again, the rest run on) and the whole tree
    "stages-ci": Profile(articles=300, kills=4, bounces=1, rate=20.0, min_gap=1.5, max_gap=4.5,
                         kill_jitter=3.0, worker_args=("--stage", "all")),
    # with snapshots so that 20 restarts over 2,568 articles do not each refold the whole
    # log (the fold stage's restore path, under the same checks)
    "stages-long": Profile(articles=None, kills=21, bounces=2, rate=25.0, min_gap=4.0,
                           max_gap=15.0, snapshot_every=200, snapshot_interval=5.0,
                           warm_idle=100, worker_args=("--stage", "all")),
    # the page stage as processes of its own (extract x 2, assign, page x 2): the kills also
    # hit the assign process and the page processes, which rebuild to their own commits
    "pages-ci": Profile(articles=300, kills=4, bounces=1, rate=20.0, min_gap=1.5,
                        max_gap=4.5, kill_jitter=3.0, worker_args=("--stage", "all"),
                        page_processes=2),
    "pages-long": Profile(articles=None, kills=21, bounces=2, rate=25.0, min_gap=4.0,
                          max_gap=15.0, snapshot_every=200, snapshot_interval=5.0,
                          warm_idle=100, worker_args=("--stage", "all"), page_processes=2),
}

# what a SIGKILL hits in a staged run, in rotation (shuffled per round of three)
STAGED_TARGETS = ("supervisor", "stage", "tree")
# how long a kill waits at most for the restarted worker to publish (or snapshot) first
BUSY_WAIT_SECONDS = 72.0


@dataclass
class ChaosReport:
    profile: str
    seed: int
    articles: int = 0
    kills: int = 0
    bounces: int = 0
    self_exits: int = 0  # worker processes that ended without being killed
    restart_to_revision_s: list[float] = field(default_factory=list)
    restarts_from: dict[str, int] = field(default_factory=dict)  # state_ready source -> count
    published_revisions: int = 0
    distinct_revisions: int = 0
    conflicting_copies: int = 0
    revision_gaps: int = 0
    articles_missing: int = 0
    log_end: int = 0
    committed: int = 0
    # staged runs: what each SIGKILL hit; the most fold processes seen alive at once (an
    # orphan still stopping beside its successor makes 2: the successor must wait for the
    # fold lock); samples in which a fold outlived its supervisor; each stage group's
    # commit against the end of what it reads ("extract-<i>" on the articles log,
    # "fold/<partition>" on the facts topic) as [committed, end]
    kill_targets: dict[str, int] = field(default_factory=dict)
    max_fold_processes: int = 0
    orphaned_fold_samples: int = 0
    fold_lock_waits: int = 0
    # extract stripes' failed facts sends (each rewinds through a new producer), and the most
    # for one offset in one incarnation: many there is a stripe stuck on that offset
    facts_send_failures: int = 0
    max_send_failures_one_offset: int = 0
    stage_commits: dict[str, list[int]] = field(default_factory=dict)
    verify_ok: bool = False
    verify_output: str = ""
    # staged runs: ``replay --verify --stage assign`` and ``--stage page``: the assignments
    # the fold wrote through the kills are the assign stage's from the facts, and the page
    # stage from them gives every published revision (None: not a staged run)
    stage_verify_ok: bool | None = None
    stage_verify_output: str = ""
    # events logged at error or critical by any process, by name: none is expected of a
    # kill or a bounce (a snapshot writer that fails after a restart, say, is a bug that no
    # revision shows)
    error_events: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (self.verify_ok and self.conflicting_copies == 0 and self.revision_gaps == 0
                and self.articles_missing == 0 and self.committed == self.log_end
                and self.kills > 0 and self.stage_commits_ok
                and self.stage_verify_ok is not False and not self.error_events)

    @property
    def stage_commits_ok(self) -> bool:
        return all(committed == end for committed, end in self.stage_commits.values())


class Supervisor:
    """Runs the worker, kills it on request, restarts it whenever it is gone.

    With the staged worker (``--stage all``) the process it starts is the stage supervisor
    and the stage processes are its children, each in a session of its own; a kill then
    hits what an operator's ``kill -9`` may hit: the supervisor alone (its children get
    SIGTERM from the kernel and finish their record before they stop, while the next
    supervisor already starts its own), one stage process (the supervisor starts it again
    on its own), or all of them at once (a container's or cgroup's kill)."""

    def __init__(self, env: dict[str, str], logs: Path, worker_args: tuple[str, ...] = (),
                 rng: random.Random | None = None) -> None:
        self.env = env
        self.logs = logs
        self.worker_args = worker_args
        self.rng = rng or random.Random(0)
        self.process: subprocess.Popen[bytes] | None = None
        self.incarnation = 0
        self.self_exits = 0
        self.killed_at: dict[int, float] = {}  # incarnation started after a kill -> kill time
        # kills of one stage process, which its supervisor started again: (incarnation, time)
        self.restarted_in_place: list[tuple[int, float]] = []
        self.kill_targets: dict[str, int] = defaultdict(int)
        self.max_fold_processes = 0
        self.orphaned_fold_samples = 0
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    def log_of(self, incarnation: int) -> Path:
        return self.logs / f"worker-{incarnation:03d}.log"

    def start(self) -> None:
        self.incarnation += 1
        with self.log_of(self.incarnation).open("wb") as out:
            self.process = subprocess.Popen([*STORYLINE, "worker", *self.worker_args],
                                            env=self.env, stdout=out, stderr=subprocess.STDOUT)
        if "--stage" in self.worker_args and self._sampler is None:
            self._sampling.set()
            self._sampler = threading.Thread(target=self._sample_folds, daemon=True)
            self._sampler.start()

    def ensure_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            self.self_exits += 1
            self.start()

    def has_published(self) -> bool:
        """Whether the running worker has published a revision since it started."""
        return _first_revision_time(self.log_of(self.incarnation)) is not None

    def has_snapshot(self) -> bool:
        """Whether the running worker has written a snapshot since it started."""
        return any(event.get("event") == "snapshot_written"
                   for event in _json_lines(self.log_of(self.incarnation)))

    def children(self) -> dict[int, str]:
        """The stage processes of the running supervisor: pid -> "fold" or "extract"."""
        if self.process is None:
            return {}
        return {pid: stage for pid, (parent, stage) in _stage_processes(self.env).items()
                if parent == self.process.pid}

    def kill_and_restart(self, target: str = "worker") -> None:
        """SIGKILL ``target`` ("worker": the one process; for a staged worker "supervisor",
        "stage" or "tree") and start the worker again as soon as its supervisor is gone."""
        assert self.process is not None
        children = self.children()
        if target == "stage" and children:
            pid = self.rng.choice(sorted(children))
            self.kill_targets[f"stage:{children[pid]}"] += 1
            os.kill(pid, signal.SIGKILL)
            killed = time.time()
            # the supervisor starts that stage again on its own; the others run on
            deadline = time.monotonic() + 60
            while not any(stage == children[pid] and other not in children
                          for other, stage in self.children().items()):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill_targets["stage_not_restarted"] += 1
                    break
                time.sleep(0.05)
            self.restarted_in_place.append((self.incarnation, killed))
            return
        else:
            self.kill_targets[target] += 1
            self.process.send_signal(signal.SIGKILL)
            if target == "tree":
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            self.process.wait()
            killed = time.time()
            if target == "tree":
                deadline = time.monotonic() + 30
                while any(alive(pid) for pid in children) and time.monotonic() < deadline:
                    time.sleep(0.05)
        self.start()
        self.killed_at[self.incarnation] = killed

    def stop(self) -> None:
        self._sampling.clear()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _sample_folds(self) -> None:
        """Count the fold processes of this run alive at once, and those whose supervisor
        is no longer the running one (orphans of a killed supervisor)."""
        while self._sampling.is_set():
            folds = {pid: parent for pid, (parent, stage) in _stage_processes(self.env).items()
                     if stage == "fold"}
            self.max_fold_processes = max(self.max_fold_processes, len(folds))
            current = self.process.pid if self.process is not None else None
            if any(parent != current for parent in folds.values()):
                self.orphaned_fold_samples += 1
            time.sleep(0.1)

    def restart_latencies(self) -> list[float]:
        """Seconds from each kill to the first revision the next worker published."""
        out = []
        kills = sorted([*self.killed_at.items(), *self.restarted_in_place])
        for incarnation, killed in kills:
            first = _first_revision_time(self.log_of(incarnation), after=killed)
            if first is not None:
                out.append(round(first - killed, 2))
        return out


    def restart_sources(self) -> dict[str, int]:
        """How each worker's state was rebuilt: memory, snapshot or log (its state_ready)."""
        out: dict[str, int] = defaultdict(int)
        for incarnation in range(1, self.incarnation + 1):
            for event in _json_lines(self.log_of(incarnation)):
                if event.get("event") == "state_ready":
                    out[str(event.get("source"))] += 1
        return dict(sorted(out.items()))

    def send_failures(self) -> tuple[int, int]:
        """(failed facts sends, the most for one stripe and offset in one incarnation);
        those held back during an outage are counted from the outage's summary."""
        total, most = 0, 0
        for incarnation in range(1, self.incarnation + 1):
            per_offset: dict[tuple[object, object], int] = defaultdict(int)
            for event in _json_lines(self.log_of(incarnation)):
                if event.get("event") == "facts_send_failed":
                    per_offset[(event.get("stripe"), event.get("offset"))] += 1
                    total += 1
                elif event.get("event") in ("kafka.reachable", "kafka.settled"):
                    held = event.get("by_source")
                    if isinstance(held, dict):
                        total += int(held.get("facts_send_failed", 0))
            most = max([most, *per_offset.values()])
        return total, most

    def error_events(self) -> dict[str, int]:
        found: Counter[str] = Counter()
        for incarnation in range(1, self.incarnation + 1):
            for event in _json_lines(self.log_of(incarnation)):
                if event.get("level") in ("error", "critical"):
                    found[str(event.get("event"))] += 1
        return dict(sorted(found.items()))

    def count_events(self, name: str) -> int:
        return sum(1 for incarnation in range(1, self.incarnation + 1)
                   for event in _json_lines(self.log_of(incarnation))
                   if event.get("event") == name)


def _stage_processes(env: dict[str, str]) -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, "fold" | "extract" | "assign" | "page") of the stage processes
    started with ``env``'s
    data directory (other runs on the machine have their own)."""
    marker = f"STORYLINE_DATA_DIR={env['STORYLINE_DATA_DIR']}".encode()
    out: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"--stage" not in argv:
                continue
            stage = argv[argv.index(b"--stage") + 1].decode()
            if stage not in ("fold", "extract", "assign", "page") or marker not in (
                    entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        fields = stat.rsplit(")", 1)[-1].split()
        if fields[0] == "Z":
            continue
        out[int(entry.name)] = (int(fields[1]), stage)
    return out


def _json_lines(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if "{" not in line:
            continue
        try:
            found = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        if isinstance(found, dict):
            out.append(found)
    return out


def _first_revision_time(log: Path, after: float | None = None) -> float | None:
    """When the log first shows a published revision (after ``after``, when given)."""
    from datetime import datetime

    for line in log.read_text(errors="replace").splitlines():
        if '"story_updated"' not in line or "{" not in line:
            continue
        try:
            event = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        stamp = event.get("timestamp")
        if stamp:
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            if after is None or at > after:
                return at
    return None


def _produce_paced(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]],
                   rate: float, done: threading.Event, errors: list[BaseException]) -> None:
    """Produce in a thread of its own, through broker bounces (sends are retried)."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                    enable_idempotence=True, request_timeout_ms=60000)
        await producer.start()
        try:
            for key, value in values:
                while True:
                    try:
                        await producer.send_and_wait(topic, key=key, value=value)
                        break
                    except Exception:  # noqa: BLE001 - the broker may be bouncing
                        await asyncio.sleep(0.5)
                await asyncio.sleep(1.0 / rate)
        finally:
            await producer.stop()

    try:
        asyncio.run(run())
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        errors.append(exc)
    finally:
        done.set()


async def _read_all(bootstrap: str, topic: str) -> list[bytes]:
    out: list[bytes] = []
    ends = await end_offsets(bootstrap, topic)
    for partition, end in sorted(ends.items()):
        async for record in read_partition(bootstrap, topic, partition, stop=end):
            if record.value is not None:
                out.append(record.value)
    return out


def _committed_to_end(settings: Settings) -> bool:
    """Whether the worker group has committed the end of the articles log, by one cheap look
    in this process (False when the broker does not answer in time)."""
    from storyline.commands.status import worker_lag

    try:
        end, committed = asyncio.run(asyncio.wait_for(worker_lag(settings), 15.0))
    except Exception:  # noqa: BLE001 - the broker may be restarting: not caught up yet
        return False
    return committed == end


def _wait_caught_up(env: dict[str, str], settings: Settings, supervisor: Supervisor,
                    timeout: float) -> None:
    """Until `storyline status` says the worker is caught up (asked once the group's
    commit, looked at from here every half second, is at the end of the log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.ensure_running()
        if _committed_to_end(settings):
            result = subprocess.run([*STORYLINE, "status"], env=env, capture_output=True,
                                    text=True, timeout=60)
            if result.returncode == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"the worker did not catch up in {timeout:.0f} s")


def assert_lost_nothing(report: ChaosReport, articles: int) -> None:
    """What every CI profile must show, whatever it breaks: ``replay --verify`` passes, no
    conflicting copy of a revision, no revision gap, every article in its story, and the
    committed offset at the end of the log of ``articles`` records."""
    detail = json.dumps(asdict(report), indent=1)
    assert report.verify_ok, detail
    assert report.conflicting_copies == 0, detail
    assert report.revision_gaps == 0, detail
    assert report.articles_missing == 0, detail
    assert report.log_end == articles and report.committed == articles, detail
    assert report.stage_verify_ok is not False, detail
    assert report.error_events == {}, detail


def assert_staged_run_lost_nothing(report: ChaosReport, articles: int) -> None:
    """What a staged CI profile must show besides :func:`assert_lost_nothing`: each kind of
    kill happened (the supervisor alone, one stage process, the whole tree), a stage process
    killed was started again by its supervisor, which stayed up, every stage group is at the
    end of what it reads, no stripe was stuck resending one offset, and the revisions came."""
    detail = json.dumps(asdict(report), indent=1)
    kinds = {target.split(":")[0] for target in report.kill_targets}
    assert {"supervisor", "stage", "tree"} <= kinds, detail
    assert "stage_not_restarted" not in report.kill_targets, detail
    assert report.self_exits == 0, detail
    assert report.articles == articles, detail
    assert_lost_nothing(report, articles)
    assert report.stage_commits and report.stage_commits_ok, detail
    assert report.max_send_failures_one_offset <= 10, detail
    assert report.distinct_revisions >= articles - 30, detail
    assert report.published_revisions >= report.distinct_revisions, detail


def run_chaos(profile_name: str, articles_file: Path, workdir: Path, *, seed: int = 7
              ) -> ChaosReport:
    profile = PROFILES[profile_name]
    report = ChaosReport(profile=profile_name, seed=seed)
    started = time.monotonic()
    rng = random.Random(seed)
    broker = LocalBroker(BrokerConfig.private(workdir / "broker", heap="512m"))
    broker.start()
    prefix = f"chaos-{seed}-{int(time.time())}."
    env = dict(os.environ)
    env.update({
        "STORYLINE_BOOTSTRAP_SERVERS": broker.bootstrap,
        "STORYLINE_TOPIC_PREFIX": prefix,
        "STORYLINE_DATA_DIR": str(workdir / "data"),
        "STORYLINE_SNAPSHOT_EVERY": str(profile.snapshot_every),
        "STORYLINE_WORKER_SESSION_TIMEOUT": str(profile.session_timeout),
        "STORYLINE_SNAPSHOT_INTERVAL": str(profile.snapshot_interval),
        "STORYLINE_WARM_IDLE_REVISIONS": str(profile.warm_idle),
        "STORYLINE_PAGE_PROCESSES": str(profile.page_processes),
    })
    # (with page processes, status and worker_lag watch the assign process's group)
    settings = Settings(bootstrap_servers=broker.bootstrap, topic_prefix=prefix,
                        page_processes=profile.page_processes)
    supervisor = Supervisor(env, workdir, profile.worker_args, random.Random(seed + 1))
    try:
        subprocess.run([*STORYLINE, "topics", "apply"], env=env, check=True,
                       capture_output=True, timeout=120)
        records = records_from_files([articles_file], settings.articles, profile.articles)
        values = [(key or b"", value or b"") for key, value, _ in records]
        report.articles = len(values)
        done, errors = threading.Event(), []  # type: ignore[var-annotated]
        producer = threading.Thread(target=_produce_paced, daemon=True, args=(
            broker.bootstrap, settings.articles, values, profile.rate, done, errors))
        producer.start()
        supervisor.start()

        faults = ["kill"] * profile.kills + ["bounce"] * profile.bounces
        rng.shuffle(faults)
        if faults and faults[0] == "bounce":  # the first fault hits a worker that has state
            faults.append(faults.pop(0))
        targets: list[str] = []
        while profile.staged and len(targets) < profile.kills:
            # every kind of kill in each round of three, in a seeded order
            targets += rng.sample(STAGED_TARGETS, len(STAGED_TARGETS))
        for fault in faults:
            wait = rng.uniform(profile.min_gap, profile.max_gap)
            until = time.monotonic() + wait
            while time.monotonic() < until:
                supervisor.ensure_running()
                time.sleep(0.2)
            if fault == "kill":
                # kill a worker that is processing, not one still rebuilding: faults spread
                # over the whole log and each restart's recovery is measured
                busy_by = time.monotonic() + max(profile.max_gap * 8, BUSY_WAIT_SECONDS)
                while (not supervisor.has_published() and not done.is_set()
                       and time.monotonic() < busy_by):
                    supervisor.ensure_running()
                    time.sleep(0.2)
                if profile.snapshot_every:
                    # the snapshot profiles test restores: let this worker save a snapshot
                    # and commit past it (commits every second) before it dies; a snapshot
                    # at or beyond the commit is rightly refused (it holds records about
                    # to be delivered again), which would test the fold from 0 instead
                    while (not supervisor.has_snapshot() and not done.is_set()
                           and time.monotonic() < busy_by):
                        supervisor.ensure_running()
                        time.sleep(0.2)
                    time.sleep(1.5)
                jitter = profile.min_gap if profile.kill_jitter is None else profile.kill_jitter
                time.sleep(rng.uniform(0.0, jitter))
                supervisor.kill_and_restart(targets.pop(0) if profile.staged else "worker")
                report.kills += 1
            else:
                broker.stop()
                time.sleep(rng.uniform(2.0, 6.0))
                broker.start()
                report.bounces += 1
        done.wait(timeout=3600)
        if errors:
            raise errors[0]
        _wait_caught_up(env, settings, supervisor, timeout=900)
        supervisor.stop()

        # replay --verify (the longest check) and, for a staged run, the stage replays run
        # at once (each reads the topics on its own), while the others look at the topics
        stages = (["assign"], ["page", "--processes", "2"]) if profile.staged else ()
        verifies = [subprocess.Popen([*STORYLINE, "replay", "--verify", *stage], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for stage in ([], *(["--stage", *stage] for stage in stages))]
        try:
            _check_published(report, settings)
            status = subprocess.run([*STORYLINE, "status"], env=env, capture_output=True,
                                    text=True, timeout=60)
            from storyline.commands.status import worker_lag

            report.log_end, report.committed = asyncio.run(worker_lag(settings))
            if profile.staged:
                report.stage_commits = asyncio.run(_stage_commits(settings,
                                                                  profile.page_processes))
            said = [verify.communicate(timeout=3600) for verify in verifies]
        finally:
            for verify in verifies:
                if verify.poll() is None:
                    verify.kill()
                    verify.wait()
        stdout, stderr = said[0]
        report.verify_ok = verifies[0].returncode == 0
        report.verify_output = (stdout + stderr)[-3000:] + "\n" + status.stdout
        if profile.staged:
            report.stage_verify_ok = all(verify.returncode == 0 for verify in verifies[1:])
            report.stage_verify_output = "\n".join(
                (stdout + stderr)[-1500:] for stdout, stderr in said[1:])
    finally:
        supervisor.stop()
        report.self_exits = supervisor.self_exits
        report.restart_to_revision_s = supervisor.restart_latencies()
        report.restarts_from = supervisor.restart_sources()
        report.kill_targets = dict(sorted(supervisor.kill_targets.items()))
        report.max_fold_processes = supervisor.max_fold_processes
        report.orphaned_fold_samples = supervisor.orphaned_fold_samples
        report.fold_lock_waits = supervisor.count_events("state_lock_wait")
        report.error_events = supervisor.error_events()
        report.facts_send_failures, report.max_send_failures_one_offset = (
            supervisor.send_failures())
        broker.stop(wipe=False)
        report.seconds = round(time.monotonic() - started, 1)
    return report


async def _stage_commits(settings: Settings, page_processes: int = 0
                         ) -> dict[str, list[int]]:
    """Each stage group's committed offset and the end of what it reads: every extract
    stripe's group on the articles log, the fold's (the worker's group) on each facts
    partition; with page processes the assign process's group on each facts partition and
    each page process's on its partition of the assignments topic."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from storyline.commands.status import worker_group
    from storyline.stream.extract_stage import extract_group
    from storyline.stream.fold_stage import fold_group
    from storyline.stream.page_stage import page_group

    bootstrap = settings.bootstrap_servers
    articles_end = sum((await end_offsets(bootstrap, settings.articles)).values())
    facts_ends = await end_offsets(bootstrap, settings.facts)
    stripes = len(facts_ends)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        out: dict[str, list[int]] = {}
        for stripe in range(stripes):
            found = await admin.list_consumer_group_offsets(
                extract_group(settings, stripe, stripes))
            meta = found.get(TopicPartition(settings.articles, 0))
            out[f"extract-{stripe}"] = [meta.offset if meta else -1, articles_end]
        group = (fold_group(settings, pages=False) if page_processes
                 else worker_group(settings))
        found = await admin.list_consumer_group_offsets(group)
        for partition, end in sorted(facts_ends.items()):
            meta = found.get(TopicPartition(settings.facts, partition))
            out[f"{'assign' if page_processes else 'fold'}/{partition}"] = [
                meta.offset if meta else -1, end]
        if page_processes:
            assignment_ends = await end_offsets(bootstrap, settings.assignments)
            for partition, end in sorted(assignment_ends.items()):
                found = await admin.list_consumer_group_offsets(page_group(settings, partition))
                meta = found.get(TopicPartition(settings.assignments, partition))
                out[f"page/{partition}"] = [meta.offset if meta else -1, end]
        return out
    finally:
        await admin.close()


def _check_published(report: ChaosReport, settings: Settings) -> None:
    updates = asyncio.run(_read_all(settings.bootstrap_servers, settings.story_updates))
    copies: dict[tuple[str, int], set[bytes]] = defaultdict(set)
    reflected: set[str] = set()
    for raw in updates:
        event = decode_any(raw)
        if isinstance(event, StoryUpdated):
            copies[(event.story_id, event.revision)].add(raw)
            reflected.update(event.diff.articles_added)
    report.published_revisions = sum(1 for raw in updates
                                     if isinstance(decode_any(raw), StoryUpdated))
    report.distinct_revisions = len(copies)
    report.conflicting_copies = sum(1 for found in copies.values() if len(found) > 1)
    revisions: dict[str, set[int]] = defaultdict(set)
    for story_id, revision in copies:
        revisions[story_id].add(revision)
    report.revision_gaps = sum(max(found) - len(found) for found in revisions.values())

    articles = asyncio.run(_read_all(settings.bootstrap_servers, settings.articles))
    usable = set()
    for raw in articles:
        try:
            article = decode_any(raw)
        except Exception:  # noqa: BLE001 - poison records are dead-lettered, not articles
            continue
        if getattr(article, "pubstatus", None) is PubStatus.USABLE:
            usable.add(article.uri)  # type: ignore[attr-defined]
    report.articles_missing = len(usable - reflected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ci")
    parser.add_argument("--articles", type=Path,
                        default=Path("../shared/data/timeline17-dev/articles.jsonl"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the broker, the worker state and the logs go "
                             "(default: a new temporary directory, kept)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="storyline-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = run_chaos(args.profile, args.articles, workdir, seed=args.seed)
    print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    print(f"logs and broker data: {workdir}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
