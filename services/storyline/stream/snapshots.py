"""Snapshots of the core's working state, so a worker restart folds the log's tail only.

The state is a pure function of the articles log, so a snapshot is a cache and can always be
thrown away. One is used only when it was written by the same pipeline version, for the same
topic and partition, and at an offset *before* the one consumption resumes from: records at
or after that offset are delivered again and must be processed (and their events published)
again, which a state that already holds them would skip as redeliveries. Otherwise the
worker folds from offset 0, as without snapshots.

File format (``storyline-snapshot-4``): one line of JSON header (format, pipeline version,
topic, partition, offset, the lengths of the two parts, the number of stories and the sha256
of everything after the header), then the pickle (packed: :mod:`storyline.domain.packing`) of
the :class:`~storyline.domain.pipeline.Pipeline` without the states of its stories in play, then
those states, each packed on its own as the pipeline freezes an idle story (``>IQ`` lengths,
story id, bytes). Loading unpickles the pipeline's own parts and parks the story states in
its cold store unread: a story is unpickled when it is next touched, so a restart does not
pay for the whole history's stories at once (``Pipeline.stories_apart``). A
``storyline-snapshot-1`` file (one pickle of everything) is still read.

Pickle, because the state is a graph of plain Python objects that only this code writes and
reads, in the worker's own data directory (trusted like the RocksDB store beside it); an old
or foreign snapshot is refused by its header before anything is unpickled, a damaged one by
its hash, and one naming classes this code does not have (moved modules: another
``STATE_LAYOUT``) when unpickling them fails.

Writes are atomic (temporary file, fsync, rename). By default a forked child writes them
(copy-on-write), so the worker keeps consuming while a large state is serialised.

Cold stories. When the pipeline keeps idle stories in an external store (RocksDB, see
:mod:`storyline.stream.coldstore`), the snapshot file does not carry them: a checkpoint of
the store, taken at the same record boundary, sits beside it as ``<offset>.cold/``, made
before the snapshot file is renamed into place, so a snapshot file always has its
checkpoint. Loading such a snapshot rebuilds the live store from that checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import shutil
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import structlog

from storyline.domain.coldstore import ColdStoreFailed
from storyline.domain.packing import pack, unpack
from storyline.domain.pipeline import PIPELINE_VERSION, STATE_LAYOUT, Pipeline
from storyline.domain.unpickle import unpickled
from storyline.processes import alive, die_with_parent
from storyline.stream.coldstore import RocksColdStore

log = structlog.get_logger("storyline.snapshots")

# 4: the stories' timelines pickled as columns (storyline.domain.page.timeline); 3 and 2,
# their events as objects, are still read (TimelineIndex.__setstate__ tells them apart).
# 3: the pipeline and the stories' states packed by storyline.domain.packing (Zstandard);
# 2 (zlib) is still read: packing.unpack tells them apart. Code before a format refuses it
# (and folds from an older snapshot or the log) instead of failing on a story's first thaw.
FORMAT = "storyline-snapshot-4"
OBJECTS_FORMAT = "storyline-snapshot-3"  # read, no longer written
ZLIB_FORMAT = "storyline-snapshot-2"  # read, no longer written
WHOLE_PICKLE_FORMAT = "storyline-snapshot-1"  # read, no longer written
_STORY = struct.Struct(">IQ")  # a story's id length, its packed state's length
_NAME = re.compile(r"^(?P<offset>\d{20})\.snap$")


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    format: str
    pipeline_version: str
    topic: str
    partition: int
    offset: int  # the last offset folded into the state
    payload_bytes: int  # the pipeline's pickle, packed
    sha256: str  # of everything after the header line
    stories: int = 0  # story states set apart (formats 2 and 3)
    stories_bytes: int = 0


def snapshot_dir(root: Path, topic: str, partition: int) -> Path:
    """Snapshots of one partition's state under a deployment's own ``root``."""
    return root / f"{topic}-{partition}"


def cold_checkpoint_path(directory: Path, offset: int) -> Path:
    return directory / f"{offset:020d}.cold"


def checkpoint_cold_store(pipeline: Pipeline, directory: Path, offset: int) -> None:
    """Save the pipeline's external cold store (if it has one) for the snapshot at
    ``offset``; must run at the same record boundary as the snapshot's pickle."""
    store = pipeline.cold_store
    if not store.external:
        return
    if not isinstance(store, RocksColdStore):
        raise TypeError(f"cannot checkpoint a {type(store).__name__}")
    directory.mkdir(parents=True, exist_ok=True)
    target = cold_checkpoint_path(directory, offset)
    shutil.rmtree(target, ignore_errors=True)  # left by a crash before its snapshot file
    store.checkpoint(target)


def write_snapshot(pipeline: Pipeline, directory: Path, topic: str, partition: int, *,
                   cold_saved: bool = False) -> Path:
    """Write the state atomically; the file is named by the last offset it holds. The
    external cold store is checkpointed first, unless the caller did (``cold_saved``)."""
    offset = pipeline.applied_offset(topic, partition)
    if offset is None:
        raise ValueError(f"nothing of {topic}/{partition} folded yet")
    if not cold_saved:
        checkpoint_cold_store(pipeline, directory, offset)
    core, apart = pipeline.stories_apart()
    payload = pack(core)
    del core
    digest = hashlib.sha256(payload)
    framed = [(_STORY.pack(len(key), len(packed)) + key, packed)
              for key, packed in ((story_id.encode(), packed) for story_id, packed in apart)]
    for framing, packed in framed:
        digest.update(framing)
        digest.update(packed)
    stories_bytes = sum(len(framing) + len(packed) for framing, packed in framed)
    header = SnapshotHeader(FORMAT, pipeline.pipeline_version, topic, partition, offset,
                            len(payload), digest.hexdigest(), len(apart), stories_bytes)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{offset:020d}.snap"
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    with temporary.open("wb") as handle:
        handle.write(json.dumps(asdict(header), sort_keys=True).encode() + b"\n")
        handle.write(payload)
        for framing, packed in framed:
            handle.write(framing)
            handle.write(packed)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    return path


def _stories_set_apart(section: bytes, count: int) -> list[tuple[str, bytes]] | None:
    """The (story id, packed state) records of a snapshot's story section; None when the
    section does not hold exactly ``count`` whole records."""
    found: list[tuple[str, bytes]] = []
    view = memoryview(section)
    at = 0
    while at < len(view):
        if at + _STORY.size > len(view):
            return None
        key_bytes, packed_bytes = _STORY.unpack_from(view, at)
        at += _STORY.size
        end = at + key_bytes + packed_bytes
        if end > len(view):
            return None
        found.append((bytes(view[at:at + key_bytes]).decode(),
                      bytes(view[at + key_bytes:end])))
        at = end
    return found if len(found) == count else None


def _read_header(handle: BinaryIO) -> SnapshotHeader | None:
    line = handle.readline(4096)
    try:
        fields = json.loads(line)
        return SnapshotHeader(**fields)
    except (ValueError, TypeError):
        return None


def snapshots(directory: Path) -> list[tuple[int, Path]]:
    """(offset, path) of the snapshots in ``directory``, newest first."""
    if not directory.is_dir():
        return []
    found = [(int(m["offset"]), p) for p in directory.iterdir()
             if (m := _NAME.match(p.name)) is not None]
    return sorted(found, reverse=True)


def load_snapshot(directory: Path, topic: str, partition: int, before: int,
                  cold_live: Path | None = None) -> tuple[Pipeline, int] | None:
    """The newest usable state that holds only offsets < ``before``, with its last offset.
    A state whose cold store was external gets it rebuilt at ``cold_live`` from its
    checkpoint (refused when there is no ``cold_live`` or no checkpoint)."""
    for offset, path in snapshots(directory):
        if offset >= before:
            continue  # holds records that are about to be delivered again
        with path.open("rb") as handle:
            header = _read_header(handle)
            reason = _refusal(header, topic, partition, offset)
            if reason is None and header is not None:
                body = handle.read()
                apart = _stories_set_apart(body[header.payload_bytes:], header.stories)
                if (len(body) != header.payload_bytes + header.stories_bytes
                        or hashlib.sha256(body).hexdigest() != header.sha256
                        or apart is None):
                    reason = "damaged: length or sha256 differs from the header"
                else:
                    pipeline = _unpickled_state(unpack(body[:header.payload_bytes]))
                    del body
                    if isinstance(pipeline, str):
                        reason = pipeline
                    elif (isinstance(pipeline, Pipeline)
                            and pipeline.state_layout != STATE_LAYOUT):
                        # the same pipeline version, another release's way of keeping it:
                        # what the operator sees once after such an upgrade
                        reason = (f"written by code of state layout {pipeline.state_layout}, "
                                  f"and this code's is {STATE_LAYOUT}: the state is folded "
                                  "again from the log (the revisions are the same)")
                    elif (not isinstance(pipeline, Pipeline)
                            or pipeline.applied_offset(topic, partition) != offset):
                        reason = "content does not match its header"
                    elif pipeline.needs_cold_store:
                        checkpoint = cold_checkpoint_path(directory, offset)
                        if cold_live is None or not checkpoint.is_dir():
                            reason = "its cold store checkpoint is missing"
                        else:
                            try:
                                restored = RocksColdStore.restored(checkpoint, cold_live)
                            except ColdStoreFailed as exc:  # a table file gone or damaged
                                reason = f"its cold store checkpoint is damaged: {exc}"
                            else:
                                pipeline.attach_cold_store(restored)
                                return _parked(pipeline, apart), offset
                    else:
                        return _parked(pipeline, apart), offset
        log.warning("snapshot_refused", path=str(path), reason=reason)
    return None


def _unpickled_state(payload: bytes) -> object:
    """The pickled pipeline, or why this code cannot read it: a pickle names each class by
    its module and name, so a state written before a class moved or was removed (code of
    another ``STATE_LAYOUT`` under the same pipeline version) fails to load, and is
    refused like any other doubtful snapshot (the worker folds from 0)."""
    try:
        return unpickled(payload)
    except (ImportError, AttributeError, pickle.UnpicklingError) as exc:
        return f"its classes are not this code's ({type(exc).__name__}: {exc})"


def _parked(pipeline: Pipeline, apart: list[tuple[str, bytes]]) -> Pipeline:
    for story_id, packed in apart:
        pipeline.park(story_id, packed)
    return pipeline


def _refusal(header: SnapshotHeader | None, topic: str, partition: int, offset: int
             ) -> str | None:
    if header is None or header.format not in (FORMAT, OBJECTS_FORMAT, ZLIB_FORMAT,
                                               WHOLE_PICKLE_FORMAT):
        return "unknown format"
    if header.format == WHOLE_PICKLE_FORMAT and header.stories:
        return "unknown format"
    if header.pipeline_version != PIPELINE_VERSION:
        return f"written by {header.pipeline_version}, this is {PIPELINE_VERSION}"
    if (header.topic, header.partition, header.offset) != (topic, partition, offset):
        return "header names another position"
    return None


_TABLE_FILE = re.compile(r"\b(\d+\.sst)\b")
DAMAGED_SUFFIX = ".damaged"


def set_aside_damaged(directory: Path, failure: ColdStoreFailed) -> list[Path]:
    """The snapshots whose cold store checkpoint holds a table file that ``failure`` names
    (RocksDB names the file of a damaged block), renamed ``<offset>.snap.damaged`` so the
    next start refuses them and rebuilds from an older one or from the log; kept for the
    operator. A checkpoint links the live store's table files, so the live store's damaged
    file is the checkpoint's too, and every checkpoint that shares it is set aside. Only
    RocksDB's ``Corruption`` says a file is damaged: a full or read-only disk ("IO error: No
    space left on device: While appending to file: .../000009.sst", a new file) sets
    nothing aside: the snapshots are sound, the disk is what needs mending."""
    moved: list[Path] = []
    if "Corruption" not in str(failure):
        return moved
    names = set(_TABLE_FILE.findall(str(failure)))
    for offset, path in snapshots(directory):
        checkpoint = cold_checkpoint_path(directory, offset)
        if any((checkpoint / name).exists() for name in names):
            target = path.with_name(path.name + DAMAGED_SUFFIX)
            try:
                path.rename(target)
            except OSError as exc:
                log.error("snapshot_set_aside_failed", path=str(path),
                          error=f"{type(exc).__name__}: {exc}")
                continue
            moved.append(target)
            log.error("snapshot_set_aside", path=str(target), files=sorted(names),
                      reason=str(failure))
    return moved


def cold_store_failed(directories: Iterable[Path], failure: ColdStoreFailed) -> None:
    """What a fold process does when its cold store fails: the damaged snapshots set aside
    (:func:`set_aside_damaged`) and one critical line; the caller then stops, and the next
    start rebuilds from a sound snapshot or from the log."""
    moved = [str(path) for directory in directories
             for path in set_aside_damaged(directory, failure)]
    log.critical("cold_store_failed", reason=str(failure), set_aside=moved)


@contextlib.contextmanager
def stopping_on_cold_store_failure(directory: Path) -> Iterator[None]:
    """Run a stage process's fold: a :class:`ColdStoreFailed` stops it with exit status 1
    (its supervisor starts it again) after :func:`cold_store_failed`, not as a traceback."""
    try:
        yield
    except ColdStoreFailed as exc:
        cold_store_failed([directory], exc)
        raise SystemExit(1) from exc


def prune(directory: Path, keep: int) -> None:
    """Keep the ``keep`` newest snapshots (older ones help when the committed offset lags)."""
    found = snapshots(directory)
    for offset, path in found[keep:]:
        path.unlink(missing_ok=True)
        shutil.rmtree(cold_checkpoint_path(directory, offset), ignore_errors=True)
    kept = {cold_checkpoint_path(directory, offset).name for offset, _ in found[:keep]}
    for cold in directory.glob("*.cold"):
        if cold.name not in kept:  # its snapshot was never written (a crash in between)
            shutil.rmtree(cold, ignore_errors=True)
    for stale in directory.glob("*.tmp*"):
        if stale.is_dir():
            # RocksDB stages a checkpoint in "<offset>.cold.tmp": one left by a kill during
            # the checkpoint (none is being made now: the one process that checkpoints here
            # does it before a snapshot is written, and prunes after)
            shutil.rmtree(stale, ignore_errors=True)
            continue
        pid = stale.suffix.removeprefix(".tmp")
        if not pid.isdigit() or not alive(int(pid)):
            stale.unlink(missing_ok=True)


class Snapshotter:
    """Takes a snapshot every ``every`` records or, on the timer, every ``interval`` seconds
    with something new (0: never by time), one at a time, in a forked child when ``fork``
    (POSIX), in process otherwise. Time decides only when a cache is saved, never what a
    revision holds."""

    def __init__(self, directory: Path, *, every: int, keep: int, fork: bool,
                 interval: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self.every = every
        self.interval = interval
        self._clock = clock
        self._taken_at = clock()
        self.keep = max(1, keep)
        self.fork = fork and hasattr(os, "fork")
        self._since = 0  # records folded since the last snapshot
        self._since_at_tick = 0  # ... as the previous timer tick saw it
        self._child: tuple[int, int, int] | None = None  # (pid, offset, error pipe)

    def record_folded(self, pipeline: Pipeline, topic: str, partition: int) -> None:
        if self.every <= 0:
            return
        self._since += 1
        self.tick(pipeline, topic, partition)

    def tick(self, pipeline: Pipeline, topic: str, partition: int, *, timer: bool = False
             ) -> None:
        """Take the snapshot that is due, if the previous one has finished. Called after
        each record, and on a timer (``timer=True``): a stream that has been quiet since the
        last tick gets its latest state saved even short of ``every`` records."""
        self.reap()
        due = self._since >= self.every
        if timer:
            quiet = self._since == self._since_at_tick
            stale = 0 < self.interval <= self._clock() - self._taken_at
            due = due or (self._since > 0 and (quiet or stale))
            self._since_at_tick = self._since
        if self.every <= 0 or not due or self._child is not None:
            return
        self._since = self._since_at_tick = 0
        self._taken_at = self._clock()
        self.take(pipeline, topic, partition)

    def rebuilt(self, pipeline: Pipeline, topic: str, partition: int, refolded: int) -> None:
        """A start-up rebuild that folded ``refolded`` records saves its state at once: a
        worker killed again before its next scheduled snapshot would otherwise refold the
        same stretch, and more, at every restart of a crash loop."""
        self.reap()
        if self.every <= 0 or refolded <= 0 or self._child is not None:
            return
        self._since = self._since_at_tick = 0
        self._taken_at = self._clock()
        self.take(pipeline, topic, partition)

    def take(self, pipeline: Pipeline, topic: str, partition: int) -> None:
        offset = pipeline.applied_offset(topic, partition)
        if offset is None:
            return
        if not self.fork:
            self._take_here(pipeline, topic, partition, offset)
            return
        # the cold store's checkpoint is taken here, at this record boundary, by the process
        # that owns the store (a forked child must not touch RocksDB)
        try:
            checkpoint_cold_store(pipeline, self.directory, offset)
        except Exception as exc:  # noqa: BLE001 - logged with its reason, the fold goes on
            log.error("snapshot_failed", offset=offset, exit_code=None,
                      error=f"{type(exc).__name__}: {exc}")
            return
        parent = os.getpid()
        reason_out, reason_in = os.pipe()  # the child's error, for the parent's log
        pid = os.fork()
        if pid == 0:  # the child: serialise the copy-on-write image, then leave at once
            status = 1
            try:
                os.close(reason_out)
                die_with_parent()
                if os.getppid() != parent:  # the parent died before that: nothing to do
                    os._exit(1)
                write_snapshot(pipeline, self.directory, topic, partition, cold_saved=True)
                status = 0
                prune(self.directory, self.keep)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, then exit
                os.write(reason_in, f"{type(exc).__name__}: {exc}".encode()[:4000])
            finally:
                os._exit(status)
        os.close(reason_in)
        self._child = (pid, offset, reason_out)
        log.info("snapshot_started", offset=offset, child_pid=pid)

    def _take_here(self, pipeline: Pipeline, topic: str, partition: int, offset: int) -> None:
        """The snapshot written in this process, its outcome logged as a forked writer's
        is: a snapshot is a cache, so a failure to write it is an error to alert on, not a
        reason to stop folding, and a failure to clear older ones only a warning."""
        try:
            checkpoint_cold_store(pipeline, self.directory, offset)
            path = write_snapshot(pipeline, self.directory, topic, partition, cold_saved=True)
        except Exception as exc:  # noqa: BLE001 - logged with its reason, the fold goes on
            log.error("snapshot_failed", offset=offset, exit_code=None,
                      error=f"{type(exc).__name__}: {exc}")
            return
        log.info("snapshot_written", offset=offset, path=str(path), bytes=path.stat().st_size)
        try:
            prune(self.directory, self.keep)
        except Exception as exc:  # noqa: BLE001 - older snapshots are only kept too long
            log.warning("snapshot_prune_failed", offset=offset,
                        error=f"{type(exc).__name__}: {exc}")

    def reap(self, *, wait: bool = False) -> None:
        if self._child is None:
            return
        pid, offset, reason_out = self._child
        done, status = os.waitpid(pid, 0 if wait else os.WNOHANG)
        if done == 0:
            return
        self._child = None
        with os.fdopen(reason_out, "rb") as reasons:
            reason = reasons.read().decode(errors="replace")
        path = self.directory / f"{offset:020d}.snap"
        if os.waitstatus_to_exitcode(status) == 0:
            log.info("snapshot_written", offset=offset, path=str(path))
            if reason:  # written; only the clearing of older ones failed
                log.warning("snapshot_prune_failed", offset=offset, error=reason)
        else:
            log.error("snapshot_failed", offset=offset,
                      exit_code=os.waitstatus_to_exitcode(status), error=reason or None)
