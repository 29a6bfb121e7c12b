"""The worker's own offset bookkeeping: what it has folded and published, and committing it.

faust's at-least-once commits are not used for the articles topic (it is declared with
``acks=False``). Its commit logic stops for good at the first gap it sees in the offsets it
delivered (faust-streaming #606: ``_new_offset`` returns None whenever the lowest acked
offset is more than one past the committed one), and its consumer has been seen to deliver
records out of the committed order after a restart. The worker instead commits exactly
"every record below this offset has been folded and its events delivered", which it knows
better than faust does.

Each commit carries a little JSON metadata (when, by which pipeline), so ``storyline
status`` can tell a worker whose commits stopped from one that is merely busy.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from storyline.errors import OperatorError
from storyline.kafka.clients import started
from storyline.kafka.security import kafka_options
from storyline.stream.logreader import LogMark, ensure_same_log
from storyline.stream.reconnect import retried

# the partition counts of ``Settings.laid_out_topics`` a committer is laid out by, None for
# a topic its layout does not depend on
LaidOut = tuple[int | None, ...]

log = structlog.get_logger("storyline.offsets")


@dataclass(frozen=True, slots=True)
class CommitMetadata:
    """What a commit says about itself; wall-clock time here shapes no revision.

    ``stage``: set by a committer that is not a member of the group (the fold stage assigns
    its partitions by hand), which then commits at least every ``STAGE_HEARTBEAT`` seconds,
    moved or not, so that ``storyline status`` can tell it is alive from ``committed_at``;
    ``moved_at`` is then when its offsets last moved (None: not since it started), which is
    what says whether it is stuck."""

    committed_at: float
    pipeline_version: str
    stage: str | None = None
    moved_at: float | None = None
    # the first record of the articles log the committer reads (offset, timestamp ms): which
    # log the offsets are positions in (see logreader.LogMark); None: not known
    log: LogMark | None = None
    # the partitions of the topics the committer's records and state were laid out by, in
    # the order of ``Settings.laid_out_topics``: facts (stripes), assignments (page
    # partitions), story updates and story pages (a story's partition); None: not said (an
    # extract stripe, a commit of before 2026-12-06); a topic the committer's layout does
    # not depend on is None (the single worker reads no facts or assignments). A commit of
    # before 2026-12-07 names the first two only.
    parts: LaidOut | None = None

    def encode(self) -> str:
        fields: dict[str, object] = {"at": round(self.committed_at, 3),
                                     "pipeline": self.pipeline_version}
        if self.stage is not None:
            fields["stage"] = self.stage
            fields["moved"] = None if self.moved_at is None else round(self.moved_at, 3)
        if self.log is not None:
            fields["log"] = list(self.log)
        if self.parts is not None:
            fields["parts"] = list(self.parts)
        return json.dumps(fields, sort_keys=True)

    @staticmethod
    def decode(raw: str | None) -> CommitMetadata | None:
        try:
            fields = json.loads(raw or "")
            stage, moved, mark = fields.get("stage"), fields.get("moved"), fields.get("log")
            parts = fields.get("parts")
            return CommitMetadata(float(fields["at"]), str(fields["pipeline"]),
                                  None if stage is None else str(stage),
                                  None if moved is None else float(moved),
                                  None if mark is None else (int(mark[0]), int(mark[1])),
                                  None if parts is None else
                                  tuple(None if p is None else int(p) for p in parts))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            return None


STAGE_HEARTBEAT = 5.0  # seconds between a group-less stage's commits, at the most


@dataclass(frozen=True, slots=True)
class GroupCommits:
    """What a group's newest commits say of themselves: the articles-log mark (any commit's:
    a committer writes one mark to all its partitions) and the pipeline version of the
    newest; None where none says."""

    log: LogMark | None = None
    pipeline: str | None = None
    parts: LaidOut | None = None  # the newest's that says


async def group_commits(bootstrap: str, group: str) -> GroupCommits:
    """What ``group``'s commits say (:class:`GroupCommits`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options())
    await started(admin)
    try:
        found = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    decoded = [CommitMetadata.decode(meta.metadata) for _tp, meta in
               sorted(found.items(), key=lambda item: (item[0].topic, item[0].partition))]
    readable = [m for m in decoded if m is not None]
    mark = next((m.log for m in readable if m.log is not None), None)
    newest = max(readable, key=lambda m: m.committed_at, default=None)
    laid_out = max((m for m in readable if m.parts is not None),
                   key=lambda m: m.committed_at, default=None)
    return GroupCommits(mark, None if newest is None else newest.pipeline_version,
                        None if laid_out is None else laid_out.parts)


class PipelineChanged(OperatorError, RuntimeError):
    """A group's commits were made by another pipeline version than this process's."""


class PartitionsChanged(OperatorError, RuntimeError):
    """A topic a group's commits (and the state and records behind them) were laid out by
    has another partition count than then."""


def ensure_same_parts(group: str, committed: LaidOut | None, found: LaidOut | None,
                      topics: Sequence[str]) -> None:
    """Raise PartitionsChanged if ``group`` committed with other partition counts of
    ``topics`` (``Settings.laid_out_topics``) than they have now (``found``); None: not
    said, or not looked at (as a whole or for one topic). A commit that names fewer counts
    is compared on those."""
    if committed is None or found is None:
        return
    if len(topics) < len(found):  # zip would compare only as many counts as topics named
        raise ValueError(f"{len(found)} partition counts, {len(topics)} topics named")
    what = [f"{topic} has {now} partitions, {before} when group {group} committed"
            for topic, before, now in zip(topics, committed, found, strict=False)
            if before is not None and now is not None and before != now]
    if not what:
        return
    raise PartitionsChanged(
        f"{'; '.join(what)}: partitions were added to a topic already written, whose "
        "records, commits and state are laid out by the old count (a story's next revisions "
        "would be folded by another page partition from revision 1, the stripes' facts read "
        "from other partitions, a story's next updates and pages written to another "
        "partition than its earlier ones, where a reader can meet them first). Its partition "
        "count is fixed for the deployment's life: run another count as a new deployment, a "
        "new STORYLINE_TOPIC_PREFIX with STORYLINE_SOURCE_PREFIX naming the articles topic "
        "(docs/kafka.md)")


def changed_message(group: str, committed: str, own: str, source_prefix: str) -> str:
    return (f"the commits of group {group} were made by pipeline {committed}, and this is "
            f"{own}: the revisions published so far are that version's pages, and this one "
            f"would go on with pages made otherwise, chained to pages it never made (every "
            f"consumer that checks the hash chain, the projector first, would refuse them "
            f"as PageChainBroken). Run this version beside the other on topics of its own, "
            f"reading the same articles (STORYLINE_TOPIC_PREFIX=<a new prefix> "
            f"STORYLINE_SOURCE_PREFIX='{source_prefix}'; docs/operations.md, \"Upgrading the "
            f"pipeline\"), or run {committed} here")


def ensure_same_pipeline(group: str, committed: str | None, own: str,
                         source_prefix: str) -> None:
    """Raise PipelineChanged if ``group``'s commits were made by another pipeline version
    than ``own`` (``committed``; None: not said, nothing to compare)."""
    if committed is not None and committed != own:
        raise PipelineChanged(changed_message(group, committed, own, source_prefix))


async def ensure_commits_fit(bootstrap: str, group: str, tp: TopicPartition,
                             first: LogMark | None, own: str, source_prefix: str, *,
                             parts: LaidOut | None = None,
                             topics: Sequence[str] = ()) -> None:
    """Refuse to go on from ``group``'s commits when they are positions in another log than
    the one ``tp`` begins with (``first``: LogRewound), another pipeline version than
    ``own`` made them (PipelineChanged) or they were made with other partition counts of
    ``topics`` than ``parts`` (PartitionsChanged); asked again while the broker is away."""
    commits = await retried(functools.partial(group_commits, bootstrap, group),
                            f"{group} commits")
    ensure_same_log(tp, commits.log, first)
    ensure_same_pipeline(group, commits.pipeline, own, source_prefix)
    ensure_same_parts(group, commits.parts, parts, topics)


class FoldedOffsets:
    """Per partition, the next offset whose events are not yet all delivered, and what was
    last committed."""

    def __init__(self) -> None:
        self._folded: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}

    def folded(self, topic: str, partition: int, offset: int) -> None:
        """Every record of (topic, partition) up to and including ``offset`` is folded and
        its events delivered."""
        tp = TopicPartition(topic, partition)
        if offset + 1 > self._folded.get(tp, 0):
            self._folded[tp] = offset + 1

    def due(self) -> dict[TopicPartition, int]:
        return {tp: o for tp, o in sorted(self._folded.items())
                if o > self._committed.get(tp, -1)}

    def mark_committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def forget(self, tps: set[TopicPartition]) -> None:
        """Partitions revoked: their progress belongs to whoever gets them next."""
        for tp in tps:
            self._folded.pop(tp, None)
            self._committed.pop(tp, None)


def commit_payload(offsets: Mapping[TopicPartition, int], pipeline_version: str, *,
                   stage: str | None = None, moved_at: float | None = None,
                   log: LogMark | None = None, parts: LaidOut | None = None
                   ) -> dict[TopicPartition, OffsetAndMetadata]:
    meta = CommitMetadata(time.time(), pipeline_version, stage, moved_at, log, parts).encode()
    return {tp: OffsetAndMetadata(offset, meta) for tp, offset in offsets.items()}
