"""``storyline status [--wait]``: is a worker folding the articles log, and how far behind is it.

What it looks at: the end of the articles log, the offsets the worker's consumer group has
committed (and the metadata of the newest commit: when it was made, by which pipeline), the
group's state and members, and when the oldest record still to fold was written. From those
facts :func:`verdict` (pure, no I/O) decides; the rest of this module only gathers them.

With the page stage in processes of its own (``STORYLINE_PAGE_PROCESSES=M``, as the
worker's; ``storyline worker --page-processes M``) the worker's group never commits. Then
status watches legs, each a log against the group that commits it: the articles log against
the assign process's group (``<worker group>-assign``), and each partition P of the
assignments topic against page process P's group (``<worker group>-page-P``). Every leg gets
the verdict below; :func:`combined` (pure too) joins them: an error in any leg is an error,
else any leg without a worker (4) or stuck (5) decides, naming that leg, else any leg behind
(3); caught up (0) means every leg is: every record is assigned and every assignment
published, so every revision is.

Exit status:

  0  caught up: everything in the log is committed (an empty log counts: nothing to do);
     with page processes, in every leg: every revision is published
  1  error: the articles topic (with page processes: or the assignments topic) does not
     exist, records sit on a partition of the articles topic other than the log's (0), which
     nothing folds, a commit lies beyond the log's end or names another first record of the
     articles log than it begins with (the topic was made again under the workers' state),
     was made by another pipeline version or with other partition counts of the facts,
     assignments, story updates or story pages topics than they have now, Kafka cannot be
     reached, or --wait timed out
  3  behind: records are waiting and a worker is in the group, committing (with page
     processes: in some leg, and no leg is in error, without a worker or stuck)
  4  no worker is consuming the articles topic: records are waiting and the group has no
     members (state Empty or Dead); with page processes: that is so of some leg (the
     assign process, or the page process of some partition of the assignments topic)
  5  commits stuck: records are waiting, a worker is in the group, but nothing has been
     committed for --stuck-after seconds (with page processes: in some leg)

With --wait the command watches until the worker has committed the whole log (0), and
gives up early instead of waiting out the timeout when no member has been in the group for
--grace seconds (4), or when it has watched the committed offsets not move for
--stuck-after seconds while records were waiting and a member was in the group (5). With
page processes it watches every leg, each with timers of its own.

Without --wait the verdict comes from one look: "stuck" then means that both the newest
commit and the oldest waiting record are older than --stuck-after. A worker that has only
just joined after a long outage and has not committed yet (e.g. while it rebuilds its
state) looks stuck from one look; --wait only counts the time it has watched itself.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from storyline import outages
from storyline.kafka.articles_log import ARTICLES_PARTITION, off_the_log_message
from storyline.kafka.security import kafka_options
from storyline.logconfig import configure_logging
from storyline.settings import Settings, get_settings

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    from storyline.stream.offsets import LaidOut

POLL_SECONDS = 1.0
ONE_LOOK_PATIENCE = 10.0  # seconds a single look waits for the group coordinator
# a group-less stage whose newest commit is younger than this is alive (it commits at
# least every storyline.stream.offsets.STAGE_HEARTBEAT seconds; the rest is slack for a
# slow record or a slow broker)
STAGE_ALIVE_SECONDS = 30.0
EMPTY_GROUP_STATES = frozenset({"Empty", "Dead"})


class Code(IntEnum):
    CAUGHT_UP = 0
    ERROR = 1
    BEHIND = 3
    NO_WORKER = 4
    STUCK = 5


@dataclass(frozen=True, slots=True)
class Facts:
    """What one look at the broker found, plus what ``--wait`` has watched itself.

    One leg: ``topic`` (only its partition ``partition`` when that is set: a page leg, of one
    partition of the assignments topic) against the group ``group``; ``log`` and
    ``committer`` name the two for the operator.

    Ages are seconds before the look. ``last_commit_age``: ``math.inf`` when the group has
    never committed an offset of the topic, None when it has but no commit says when (its
    metadata is not ours). ``members``/``state``: None when the group could not be described
    (its coordinator not available yet). ``memberless_for`` and ``unchanged_for`` are None
    for a single look; while waiting they say how long the group has been seen without a
    member, and how long the committed offsets have been seen not to move while records were
    waiting and a member was present.
    """

    topic: str
    ends: Mapping[int, int]  # partition -> log end offset; empty: the topic does not exist
    committed: Mapping[int, int]  # partition -> committed offset; absent: nothing committed
    state: str | None = None
    members: int | None = None
    last_commit_age: float | None = math.inf
    pending_age: float | None = None  # age of the oldest record not yet committed
    memberless_for: float | None = None
    unchanged_for: float | None = None
    group: str = ""
    pipeline: str | None = None  # pipeline version named by the newest commit
    # a group-less committer seen alive by its recent commits (the fold, assign or page
    # stage of the staged worker: they assign their partitions by hand); None: none
    stage: str | None = None
    # the stage named by the newest commit, alive or not (a stage gone says so in the report)
    committed_by: str | None = None
    partition: int | None = None  # the one partition of ``topic`` looked at; None: all
    log: str = "articles log"
    committer: str = "worker"
    # partition -> end offset of the partitions of the articles topic other than the log's
    # that hold records: nothing folds them (storyline.kafka.articles_log)
    off_the_log: Mapping[int, int] = field(default_factory=dict)
    # why the log is not the one the commits were made from (it begins with another
    # record: the topic was made again); None: it is, or nothing says otherwise
    replaced: str | None = None
    # why this code's workers refuse the commits (another pipeline version made them);
    # None: they do not
    changed: str | None = None
    # what to check when ``topic`` does not exist (Settings.missing_topic_hint)
    missing_hint: str = "is STORYLINE_TOPIC_PREFIX right? `storyline topics apply` creates it"

    @property
    def source(self) -> str:
        """What is consumed, for messages: the topic, or one partition of it."""
        return self.topic if self.partition is None else f"{self.topic} partition {self.partition}"

    @property
    def leg(self) -> str:
        """Which leg, for messages about several: the committer and its group."""
        return f"{self.committer} (group {self.group})"

    @property
    def key(self) -> tuple[str, str, int | None]:
        """What identifies a leg from one look to the next (for ``--wait``'s timers)."""
        return self.group, self.topic, self.partition

    @property
    def end(self) -> int:
        return sum(self.ends.values())

    @property
    def done(self) -> int:
        return sum(min(self.committed.get(p, 0), end) for p, end in self.ends.items())

    @property
    def lag(self) -> int:
        return sum(max(0, end - self.committed.get(p, 0)) for p, end in self.ends.items())

    @property
    def no_member(self) -> bool:
        """Nobody is consuming: no member in the group and no live group-less stage."""
        return (self.members == 0 or self.state in EMPTY_GROUP_STATES) and self.stage is None

    @property
    def consumers(self) -> str:
        if self.stage is not None and (self.members == 0 or self.state in EMPTY_GROUP_STATES):
            return f"the {self.stage} stage"
        return f"{self.members} member{_s(self.members)}"


@dataclass(frozen=True, slots=True)
class Verdict:
    code: Code
    message: str

    @property
    def final(self) -> bool:
        """Whether ``--wait`` stops here: everything but "behind" (which may still change)."""
        return self.code is not Code.BEHIND


def verdict(facts: Facts, *, stuck_after: float, grace: float | None = None) -> Verdict:
    """The truth about the worker from the observed facts; no I/O.

    ``grace`` (default ``stuck_after``) only matters while waiting: a group seen without
    members for less than that is still given the chance to get one.
    """
    grace = stuck_after if grace is None else grace
    topic, lag = facts.source, facts.lag
    if not facts.ends:
        return Verdict(Code.ERROR, f"{topic} does not exist ({facts.missing_hint})")
    if facts.off_the_log:
        return Verdict(Code.ERROR, off_the_log_message(facts.topic, facts.off_the_log))
    if facts.replaced is not None:  # the commits are positions in another log
        return Verdict(Code.ERROR, facts.replaced)
    if facts.changed is not None:  # a worker of this code would not go on from them
        return Verdict(Code.ERROR, facts.changed)
    beyond = {p: c for p, c in facts.committed.items() if c > facts.ends.get(p, c)}
    if beyond:  # not "caught up": the new log's records are skipped as redeliveries
        p, c = min(beyond.items())
        return Verdict(Code.ERROR, (
            f"the {facts.committer} committed offset {c} of {facts.topic} partition {p}, "
            f"which ends at {facts.ends[p]}: the topic was deleted and made again (or its "
            f"records removed), and the workers' state and commits belong to the old log; "
            f"its new records are not folded. Restore the old topic, or run the workers on "
            f"a new STORYLINE_TOPIC_PREFIX"))
    if lag == 0:
        if facts.end == 0:
            message = f"caught up: {topic} is empty, nothing to do"
        else:
            message = f"caught up: all {facts.end} records of {topic} are committed"
        if facts.no_member:
            message += f" (no worker is consuming {topic})"
        return Verdict(Code.CAUGHT_UP, message)
    waiting = f"{lag} record{'' if lag == 1 else 's'} waiting"
    if facts.members is None:
        return Verdict(Code.BEHIND, f"behind: {waiting}; the group could not be described "
                                    "(its coordinator is not available yet)")
    if facts.no_member:
        memberless = facts.memberless_for
        if memberless is not None and memberless < grace:
            return Verdict(Code.BEHIND, f"behind: {waiting}; no worker is consuming {topic} "
                                        f"yet (for {memberless:.0f} of {grace:g} s)")
        since = "" if memberless is None else f" for {memberless:.0f} s"
        hint = PAGE_PROCESSES_HINT if facts.committer == "worker" else ""
        if facts.committed_by is not None:
            # a group-less stage made the last commits and stopped beating: gone, or there
            # and hung (a SIGSTOPped or deadlocked process, until its supervisor kills it):
            # said first, the hint about page processes after it
            age = ("" if facts.last_commit_age is None or math.isinf(facts.last_commit_age)
                   else f" {facts.last_commit_age:.0f} s ago")
            hint = (f"; the {facts.committed_by} stage made the last commit{age} and has "
                    "made none since (it commits every few seconds while it runs): "
                    "it stopped, or its process hangs (look at its /livez; "
                    "`storyline worker` kills a stage process that hangs after "
                    f"STORYLINE_STAGE_HANG_SECONDS and starts it again){hint}")
        return Verdict(Code.NO_WORKER, f"no worker is consuming {topic}{since}: {waiting} "
                                       f"(group {facts.state or 'unknown'}, 0 members){hint}")
    stalled = stalled_for(facts)
    if stalled is not None and stalled >= stuck_after:
        where = "in the group" if facts.members else "alive"
        return Verdict(Code.STUCK, f"commits stuck since {stalled:.0f} s: {waiting} while "
                                   f"{facts.consumers} {where} "
                                   f"(threshold {stuck_after:g} s)")
    return Verdict(Code.BEHIND, f"behind: {waiting}; {facts.consumers} consuming")


def stalled_for(facts: Facts) -> float | None:
    """How long the group has had records to fold and committed none, as far as is known:
    the shortest of the newest commit's age, the oldest waiting record's age and (while
    waiting) the time the offsets were watched not moving. A single look needs both the
    first two, since either alone is no proof (an idle worker's last commit is old when a
    new record arrives; an old record may have been reached by a commit a moment ago)."""
    if facts.unchanged_for is not None:
        known = [a for a in (facts.last_commit_age, facts.pending_age) if a is not None]
        return min([facts.unchanged_for, *known])
    if facts.last_commit_age is None or facts.pending_age is None:
        return None
    return min(facts.last_commit_age, facts.pending_age)


# a leg's verdict outranks another's in this order: an error says nothing can be judged; a
# leg without a worker or stuck needs the operator whatever the others do (no worker first:
# a missing process is the cause to fix, and it can make its readers look idle, never stuck)
_SEVERITY = (Code.ERROR, Code.NO_WORKER, Code.STUCK, Code.BEHIND)


def combined(legs: Sequence[Facts], *, stuck_after: float,
             grace: float | None = None) -> Verdict:
    """The verdict on every leg together; no I/O.

    One leg (no page processes): its own :func:`verdict`, word for word. Several (the
    assign leg and a leg per partition of the assignments topic): the most severe leg's code
    (error, then no worker, then stuck, then behind); the message names every leg not caught
    up, the ones that decided first. Caught up only when every leg is: every record of the
    articles log assigned and every assignment published, i.e. every revision published.
    """
    if not legs:
        raise ValueError("no leg to judge")
    judged = [(facts, verdict(facts, stuck_after=stuck_after, grace=grace)) for facts in legs]
    if len(judged) == 1:
        return judged[0][1]
    for code in _SEVERITY:
        deciding = [(f, v) for f, v in judged if v.code is code]
        if not deciding:
            continue
        others = [(f, v) for f, v in judged
                  if v.code is not code and v.code is not Code.CAUGHT_UP]
        return Verdict(code, "; ".join(f"{f.leg}: {v.message}" for f, v in deciding + others))
    done = "; ".join(f"{f.committer}: {v.message.removeprefix('caught up: ')}"
                     for f, v in judged)
    return Verdict(Code.CAUGHT_UP, f"caught up, every revision is published: {done}")


def _s(count: int | None) -> str:
    return "" if count == 1 else "s"


def report(facts: Facts) -> str:
    """The facts of one leg, one per line, for the operator."""
    if not facts.ends:
        return f"{facts.log}: {facts.source} does not exist"
    if facts.last_commit_age is None and facts.stage is not None:
        commit = f"none has moved the offsets since the {facts.stage} stage started"
    elif facts.last_commit_age is None and facts.committed_by is not None:
        # its metadata is ours: it just never moved the offsets, and it is not alive now
        commit = (f"none moved the offsets while the {facts.committed_by} stage ran "
                  "(it is not committing now)")
    elif facts.last_commit_age is None:
        commit = "no commit metadata"
    elif math.isinf(facts.last_commit_age):
        commit = "never"
    else:
        commit = f"{facts.last_commit_age:.1f} s ago"
        if facts.pipeline:
            commit += f" (pipeline {facts.pipeline})"
    if facts.members is None:
        group = "unknown"
    else:
        group = f"state {facts.state or 'unknown'}, members {facts.members}"
        if facts.stage is not None:
            group += f"; the {facts.stage} stage commits without membership, alive"
    lines = [
        f"{facts.log}: {facts.end} records; {facts.committer} committed: {facts.done}; "
        f"lag: {facts.lag}",
        f"group {facts.group}: {group}",
        f"last commit: {commit}",
    ]
    if facts.pending_age is not None and facts.lag > 0:
        lines.append(f"oldest waiting record: written {facts.pending_age:.1f} s ago")
    return "\n".join(lines)


def report_all(legs: Sequence[Facts]) -> str:
    """Every leg's facts, a block each (a blank line between, when there are several)."""
    return "\n\n".join(report(facts) for facts in legs)


class Watch:
    """What ``--wait`` has seen of each leg over its looks, to fill in ``memberless_for`` and
    ``unchanged_for``; no I/O (the caller passes the clock). Each leg has timers of its own: a
    page process gone is missed by its own leg however busy the others are."""

    def __init__(self) -> None:
        self._memberless_since: dict[tuple[str, str, int | None], float] = {}
        # since when the offsets have not moved while records waited and a member was there
        self._still_since: dict[tuple[str, str, int | None], float] = {}
        self._last_committed: dict[tuple[str, str, int | None], Mapping[int, int]] = {}

    def see(self, facts: Facts, now: float) -> Facts:
        """``facts`` of one look at ``now`` (monotonic seconds), with what was watched."""
        key = facts.key
        memberless_since: float | None = None
        if facts.no_member:
            memberless_since = self._memberless_since.setdefault(key, now)
        else:
            self._memberless_since.pop(key, None)
        if (facts.committed != self._last_committed.get(key) or facts.lag == 0
                or facts.members is None or facts.no_member):
            self._still_since[key] = now
        self._last_committed[key] = facts.committed
        return replace(facts,
                       memberless_for=0.0 if memberless_since is None else now - memberless_since,
                       unchanged_for=now - self._still_since[key])


# --- the I/O ----------------------------------------------------------------------------


def worker_group(settings: Settings) -> str:
    """The worker's consumer group: :func:`storyline.stream.worker.app_id`, spelled out here
    because importing the worker (faust, numpy, the whole core) would make every look take
    seconds longer; a unit test holds the two equal."""
    return settings.topic("storyline-worker")


def assign_group(settings: Settings) -> str:
    """The assign process's group: :func:`storyline.stream.fold_stage.fold_group` with
    ``pages=False``, spelled out for the same reason as :func:`worker_group` (a unit test
    holds them equal)."""
    return f"{worker_group(settings)}-assign"


def page_group(settings: Settings, partition: int) -> str:
    """Page process ``partition``'s group: :func:`storyline.stream.page_stage.page_group`,
    spelled out likewise."""
    return f"{worker_group(settings)}-page-{partition}"


@dataclass(frozen=True, slots=True)
class Leg:
    """A log and the group that commits how far it is done: what one :class:`Facts` is
    about. ``partition``: only that partition of ``topic`` (None: every partition)."""

    topic: str
    group: str
    log: str
    committer: str
    partition: int | None = None
    # the one partition of ``topic`` that is the log (the articles log's); records on the
    # others are reported, not counted; None: every partition (or ``partition``) is
    log_partition: int | None = None


# a worker run with page processes commits in its assign process's group, not the worker's
PAGE_PROCESSES_HINT = ("; a worker started with --page-processes M is watched with `storyline "
                       "status --page-processes M` (or STORYLINE_PAGE_PROCESSES=M)")


def articles_leg(settings: Settings) -> Leg:
    """The articles log against the worker's group, or, with page processes, the assign
    process's (whose commit means "assigned": the page legs say what is published)."""
    if settings.page_processes > 0:
        return Leg(settings.articles, assign_group(settings), "articles log", "assign",
                   log_partition=ARTICLES_PARTITION)
    return Leg(settings.articles, worker_group(settings), "articles log", "worker",
               log_partition=ARTICLES_PARTITION)


def page_leg(settings: Settings, partition: int) -> Leg:
    return Leg(settings.assignments, page_group(settings, partition),
               f"assignments partition {partition}", f"page-{partition}", partition)


class Probe:
    """One admin client and one group-less consumer, kept for every look of a ``--wait``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        # (topic, partition, offset) -> seconds
        self._written_at: dict[tuple[str, int, int], float] = {}

    async def __aenter__(self) -> Probe:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        bootstrap = self.settings.bootstrap_servers
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
            isolation_level="read_committed",  # the same end as every other reader sees
            fetch_max_bytes=1024 * 1024, max_partition_fetch_bytes=1024 * 1024,
            **kafka_options(self.settings))
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                          **kafka_options(self.settings))
        try:
            await self._consumer.start()
            await self._admin.start()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._admin is not None:
            await self._admin.close()
        if self._consumer is not None:
            await self._consumer.stop()

    async def look(self, patience: float = 0.0) -> list[Facts]:
        """Every leg as the broker says now: the articles log's, then (with page processes)
        one per partition of the assignments topic; ``patience``: see :meth:`group_status`.

        In this order on purpose: the assign process commits a source offset only once the
        assignments below it are acknowledged, so the assignments' ends read after its
        commit hold all of them, and a page group that has committed those ends has
        published every revision of the records the assign leg counts as done."""
        settings = self.settings
        legs = [await self.look_at(articles_leg(settings), patience)]
        if settings.page_processes > 0:
            ends = await self.end_offsets(settings.assignments)
            if not ends:  # an error (its verdict says so), not an empty leg
                legs.append(Facts(topic=settings.assignments, ends={}, committed={},
                                  group=f"{worker_group(settings)}-page-<P>",
                                  log="assignments", committer="page"))
            for partition, end in sorted(ends.items()):
                legs.append(await self.look_at(page_leg(settings, partition), patience,
                                               ends={partition: end}))
        return legs

    async def look_at(self, leg: Leg, patience: float = 0.0,
                      ends: Mapping[int, int] | None = None) -> Facts:
        """One leg as the broker says now (``ends``: its log's end offsets, when already
        read); ``patience``: see :meth:`group_status`."""
        from storyline.stream.offsets import CommitMetadata

        if ends is None:
            ends = {p: end for p, end in (await self.end_offsets(leg.topic)).items()
                    if leg.partition is None or p == leg.partition}
        off_the_log: dict[int, int] = {}
        if leg.log_partition is not None:
            off_the_log = {p: end for p, end in ends.items()
                           if p != leg.log_partition and end > 0}
            ends = {p: end for p, end in ends.items() if p == leg.log_partition}
        offsets, state, members = await self.group_status(leg, patience)
        committed = {p: meta.offset for p, meta in offsets.items() if meta.offset >= 0}
        now = time.time()
        stamps = [CommitMetadata.decode(meta.metadata) for meta in offsets.values()
                  if meta.offset >= 0]
        readable = [m for m in stamps if m is not None]
        last_commit_age: float | None
        stage: str | None = None
        committed_by: str | None = None
        if not stamps:
            last_commit_age, pipeline = math.inf, None
        elif readable:
            newest = max(readable, key=lambda m: m.committed_at)
            last_commit_age, pipeline = max(0.0, now - newest.committed_at), newest.pipeline_version
            committed_by = newest.stage
            if newest.stage is not None:
                # a stage commits also when nothing moved (its heartbeat): its age says it
                # is alive, and when its offsets last moved says whether it is stuck
                if now - newest.committed_at <= STAGE_ALIVE_SECONDS:
                    stage = newest.stage
                last_commit_age = (None if newest.moved_at is None
                                   else max(0.0, now - newest.moved_at))
        else:
            last_commit_age, pipeline = None, None
        replaced: str | None = None
        marks = sorted({m.log for m in readable if m.log is not None})
        # every mark is of the articles log: the groups that fold it and the page
        # processes' (whose offsets are of the assignments made from it) alike
        if marks:
            from aiokafka.errors import KafkaTimeoutError

            from storyline.stream.logreader import first_record, replaced_message

            marked_topic, marked_partition = self.settings.articles, ARTICLES_PARTITION
            try:
                found = await first_record(self.settings.bootstrap_servers, marked_topic,
                                           marked_partition)
            except KafkaTimeoutError:  # not read in time: no verdict on it this look
                found = None
            if found is not None and any(mark != found for mark in marks):
                replaced = replaced_message(marked_topic, marked_partition,
                                            next(m for m in marks if m != found), found)
        changed: str | None = None
        if pipeline is not None:
            from storyline.domain.pipeline import PIPELINE_VERSION
            from storyline.stream.offsets import changed_message

            if pipeline != PIPELINE_VERSION:
                changed = changed_message(leg.group, pipeline, PIPELINE_VERSION,
                                          self.settings.source_topic_prefix)
        laid_out = max((m for m in readable if m.parts is not None),
                       key=lambda m: m.committed_at, default=None)
        if changed is None and laid_out is not None and laid_out.parts is not None:
            # the stages refuse commits made with other partition counts of the stage
            # topics (PartitionsChanged): so does the verdict, or it would read "behind"
            changed = await self.parts_changed(leg.group, laid_out.parts)
        facts = Facts(topic=leg.topic, ends=ends, committed=committed, state=state,
                      members=members, last_commit_age=last_commit_age, group=leg.group,
                      pipeline=pipeline, stage=stage, committed_by=committed_by,
                      partition=leg.partition, log=leg.log, committer=leg.committer,
                      off_the_log=off_the_log, replaced=replaced, changed=changed,
                      missing_hint=self.settings.missing_topic_hint(leg.topic))
        if facts.lag > 0 and (members or stage is not None):
            facts = replace(facts, pending_age=await self.pending_age(facts, now))
        return facts

    async def parts_changed(self, group: str, committed: LaidOut) -> str | None:
        """Why the stages and the worker refuse ``group``'s commits, made with ``committed``
        partitions of ``Settings.laid_out_topics`` (PartitionsChanged's words); None: they
        fit."""
        from storyline.stream.offsets import PartitionsChanged, ensure_same_parts

        topics = self.settings.laid_out_topics[:len(committed)]
        found = tuple([None if before is None else len(await self.end_offsets(topic))
                       for topic, before in zip(topics, committed, strict=False)])
        if 0 in found:  # a topic missing: the stages say so themselves
            return None
        try:
            ensure_same_parts(group, committed, found, topics)
        except PartitionsChanged as exc:
            return str(exc)
        return None

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """partition -> end offset of ``topic``; {} when it does not exist."""
        from aiokafka import TopicPartition

        from storyline.kafka.admin import cluster_topics

        consumer = self._running(self._consumer)
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            # not asked for by name before it is known to exist (a wrong prefix would create
            # it and read as "empty, nothing to do"): see cluster_topics
            if topic not in await cluster_topics(consumer._client):
                return {}
            # the consumer's metadata follows only the topics it tracks, and each assign()
            # (reading a waiting record's timestamp) replaces them with that record's topic:
            # with several legs the other topic drops out at the next metadata refresh
            await consumer._client.add_topic(topic)
            parts = consumer.partitions_for_topic(topic)
        if not parts:  # tracked already, but created since the last refresh
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps) if tps else {}
        return {tp.partition: offset for tp, offset in ends.items()}

    async def group_status(self, leg: Leg, patience: float
                           ) -> tuple[dict[int, Any], str | None, int | None]:
        """(partition -> OffsetAndMetadata of the leg's log, group state, number of
        members). A group coordinator that is not available (a fresh cluster creates its
        offsets topic on the first request) is asked again for up to ``patience`` seconds;
        after that the state and members are None, unknown."""
        from aiokafka.errors import KafkaError

        deadline = time.monotonic() + patience
        while True:
            try:
                offsets = await self.committed(leg)
                state, members = await self.describe_group(leg.group)
                return offsets, state, members
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                if time.monotonic() >= deadline:
                    return {}, None, None
                await asyncio.sleep(0.5)

    async def committed(self, leg: Leg) -> dict[int, Any]:
        """partition -> OffsetAndMetadata of the leg's log (a stage's group also commits
        other topics' offsets: the facts topic's); {} before the group exists."""
        from aiokafka import TopicPartition

        admin = self._running(self._admin)
        found = await admin.list_consumer_group_offsets(leg.group)
        return {tp.partition: meta for tp, meta in found.items()
                if isinstance(tp, TopicPartition) and tp.topic == leg.topic
                and (leg.partition is None or tp.partition == leg.partition)}

    async def describe_group(self, group_id: str) -> tuple[str | None, int | None]:
        """(state, number of members); a group never seen is Dead with no members."""
        from aiokafka.errors import for_code

        admin = self._running(self._admin)
        for response in await admin.describe_consumer_groups([group_id]):
            for group in response.to_object()["groups"]:
                if group["group"] != group_id:
                    continue
                if group["error_code"]:
                    raise for_code(group["error_code"])(f"describing group {group_id}")
                return str(group["state"]), len(group["members"])
        return None, None

    async def pending_age(self, facts: Facts, now: float) -> float | None:
        """Seconds since the oldest record not yet committed was written (its timestamp)."""
        oldest: float | None = None
        for partition, end in sorted(facts.ends.items()):
            offset = facts.committed.get(partition, 0)
            if offset >= end:
                continue
            where = (facts.topic, partition, offset)
            written = self._written_at.get(where)
            if written is None:
                written = await self._record_time(*where)
                if written is None:
                    continue
                self._written_at[where] = written
            oldest = written if oldest is None else min(oldest, written)
        return None if oldest is None else max(0.0, now - oldest)

    async def _record_time(self, topic: str, partition: int, offset: int) -> float | None:
        from aiokafka import TopicPartition

        consumer = self._running(self._consumer)
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batches = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
        records = batches.get(tp, [])
        if not records or records[0].timestamp is None or records[0].timestamp < 0:
            return None
        return float(records[0].timestamp) / 1000.0

    @staticmethod
    def _running(client: Any) -> Any:
        if client is None:
            raise RuntimeError("Probe is not started: use `async with Probe(settings)`")
        return client


async def observe(settings: Settings) -> list[Facts]:
    """One look at the broker: every leg."""
    async with Probe(settings) as probe:
        return await probe.look(patience=ONE_LOOK_PATIENCE)


async def worker_lag(settings: Settings) -> tuple[int, int]:
    """(end offset of the articles log, offset the worker group has committed).

    With page processes (``settings.page_processes`` > 0) the committed offset is the assign
    process's group's: every record below it is *assigned*, its assignments written, not
    necessarily published yet by the page processes; ``storyline status`` (:func:`observe`,
    :func:`combined`) also watches the page legs and says when every revision is published.
    """
    async with Probe(settings) as probe:
        facts = await probe.look_at(articles_leg(settings), patience=ONE_LOOK_PATIENCE)
    return facts.end, facts.done


# --- the command --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__[__doc__.index("Exit status:"):] if __doc__ else None
    parser.add_argument("--wait", action="store_true",
                        help="block until the worker has committed the whole articles log "
                             "(with page processes: until every revision is published); "
                             "stop early when no worker is consuming or commits are stuck")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds, with --wait (default %(default)g); exit 1 when reached")
    parser.add_argument("--stuck-after", type=float, default=60.0, metavar="S",
                        help="records waiting, a worker in the group and no commit for this "
                             "many seconds: exit 5 (default %(default)g)")
    parser.add_argument("--page-processes", type=_processes, default=None, metavar="M",
                        help="watch a worker started with --page-processes M (its assign "
                             "and page processes' groups; default: STORYLINE_PAGE_PROCESSES)")
    parser.add_argument("--grace", type=float, default=None, metavar="S",
                        help="with --wait, how long the group may be without a member "
                             "before exit 4 (default: --stuck-after)")


def _processes(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a count of processes (0 or more): {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    try:
        settings = get_settings()
        if args.page_processes is not None:  # as `storyline worker --page-processes M`
            settings = settings.model_copy(update={"page_processes": args.page_processes})
        # a broker that goes away during --wait: one line, not the Kafka clients' retries
        configure_logging(settings.log_level, settings.log_format)
        outages.install(settings.bootstrap_servers,
                        reminder_seconds=settings.outage_reminder_seconds,
                        settle_seconds=settings.outage_settle_seconds)
        return asyncio.run(_run(args, settings))
    except KafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(Code.ERROR)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    grace = args.stuck_after if args.grace is None else args.grace
    async with Probe(settings) as probe:
        if not args.wait:
            legs = await probe.look(patience=ONE_LOOK_PATIENCE)
            return _finish(legs, combined(legs, stuck_after=args.stuck_after, grace=grace))
        return await _wait(probe, timeout=args.timeout, stuck_after=args.stuck_after,
                           grace=grace)


async def _wait(probe: Probe, *, timeout: float, stuck_after: float, grace: float) -> int:
    """Look until a final verdict or ``timeout``, which also bounds each look (a broker gone
    away makes a look wait for its clients' retries)."""
    started = time.monotonic()
    watch = Watch()
    legs: list[Facts] = []
    found = Verdict(Code.ERROR, "no look at the broker finished (is it reachable?)")
    while True:
        remaining = timeout - (time.monotonic() - started)
        try:
            if remaining <= 0:
                raise TimeoutError
            looked = await asyncio.wait_for(probe.look(), remaining)
        except TimeoutError:
            return _finish(legs, Verdict(Code.ERROR,
                                         f"timed out after {timeout:g} s: {found.message}"))
        now = time.monotonic()
        legs = [watch.see(facts, now) for facts in looked]
        found = combined(legs, stuck_after=stuck_after, grace=grace)
        if found.final:
            return _finish(legs, found)
        if now - started > timeout:
            return _finish(legs, Verdict(Code.ERROR,
                                         f"timed out after {timeout:g} s: {found.message}"))
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, timeout - (now - started))))


def _finish(legs: Sequence[Facts], found: Verdict) -> int:
    if legs:
        print(report_all(legs))
    ok = found.code in (Code.CAUGHT_UP, Code.BEHIND)
    print(found.message, file=sys.stdout if ok else sys.stderr)
    return int(found.code)
