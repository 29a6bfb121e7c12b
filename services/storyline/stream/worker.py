"""The streaming worker: a faust-streaming app that runs the core over the articles topic.

The agent is deliberately thin: decode, call the core, emit. Everything that decides what a
revision contains is in :mod:`storyline.domain`.

State. The core's working state (clusterer and story states) lives in memory and is, by
design, a pure function of the articles log. On its first record the worker rebuilds it by
folding the log up to that record (the same code replay runs), so a restart, a rebalance or
a crash loses nothing. The fold starts from the newest usable snapshot of that state
(:mod:`storyline.stream.snapshots`, written every ``snapshot_every`` records) or from offset
0 when there is none. Two faust tables (RocksDB through rocksdict, backed by
compacted changelogs) hold what other processes and the next start need without rebuilding:
``stories`` (story id -> head revision, hash and article count) and ``articles`` (uri ->
story id, version, offset). After a rebuild the worker checks the rebuilt heads against the
``stories`` table: a difference means the core changed behind a running deployment.

Delivery. At least once: records between the last committed offset and a crash are
processed again after a restart, and they produce the same revisions, byte for byte, which
the read side stores idempotently by (story id, revision, hash).

Errors. faust acks and drops a record whose agent raises, so nothing may raise out of the
loop: a record the core cannot use becomes a ``DeadLetter`` with its position.
"""

from __future__ import annotations

import time

import faust
import structlog

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import DeadLetter, StoryUpdated
from storyline.domain.pipeline import LogPosition, Pipeline, PipelineEvent
from storyline.domain.records import handle_record
from storyline.llm.summariser import summariser_from_settings
from storyline.settings import Settings
from storyline.stream.logreader import read_partition
from storyline.stream.snapshots import Snapshotter, load_snapshot, snapshot_dir

log = structlog.get_logger("storyline.worker")

APP_NAME = "storyline-worker"


def app_id(settings: Settings) -> str:
    """The faust app id, which is also the consumer group and the changelog topics' stem;
    prefixed like every topic so deployments sharing a cluster never share state."""
    return settings.topic(APP_NAME)
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a long story's page is a few hundred KB


def story_key(event: PipelineEvent) -> bytes:
    story_id = event.story_id if isinstance(event, StoryUpdated) else event.survivor_id
    return story_id.encode()


class WorkerState:
    """The core plus whether it has been rebuilt from the log yet."""

    def __init__(self) -> None:
        self.pipeline = Pipeline()
        self.warm = False


def create_app(settings: Settings, *, web_port: int | None = None) -> faust.App:
    app = faust.App(
        app_id(settings),
        broker=[f"kafka://{server.strip()}" for server in settings.bootstrap_servers.split(",")],
        store="rocksdb://",
        datadir=str(settings.data_dir / "worker"),
        topic_partitions=1,
        topic_replication_factor=settings.replication_factor,
        topic_disable_leader=True,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=MAX_REQUEST_BYTES,
        producer_acks=-1,
        consumer_max_fetch_size=MAX_REQUEST_BYTES,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        table_standby_replicas=0,
    )
    articles = app.topic(settings.articles, key_serializer="raw", value_serializer="raw",
                         partitions=1)
    updates = app.topic(settings.story_updates, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(settings.dead_letters, key_serializer="raw",
                             value_serializer="raw")
    summaries = app.topic(settings.summaries, key_serializer="raw", value_serializer="raw")
    # keys are str (raw UTF-8), values JSON: the app's default serializers
    story_heads = app.Table("stories", default=None, partitions=1, key_type=str)
    article_index = app.Table("articles", default=None, partitions=1, key_type=str)
    state = WorkerState()
    summariser, _client = summariser_from_settings()
    snapshots_root = settings.data_dir / "snapshots"
    snapshotters: dict[tuple[str, int], Snapshotter] = {}

    def snapshotter(topic: str, partition: int) -> Snapshotter:
        found = snapshotters.get((topic, partition))
        if found is None:
            found = snapshotters[(topic, partition)] = Snapshotter(
                snapshot_dir(snapshots_root, app_id(settings), topic, partition),
                every=settings.snapshot_every, keep=settings.snapshot_keep,
                fork=settings.snapshot_fork)
        return found

    async def warm_up(topic: str, partition: int, first_offset: int) -> None:
        """Rebuild the state [0, first_offset) left behind: from the newest usable snapshot
        when there is one, then folding the records after it silently."""
        started = time.perf_counter()
        count = 0
        start = 0
        restored = load_snapshot(snapshotter(topic, partition).directory, topic, partition,
                                 before=first_offset)
        if restored is not None:
            state.pipeline, last = restored
            start = last + 1
            log.info("snapshot_loaded", offset=last,
                     seconds=round(time.perf_counter() - started, 3))
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           start=start, stop=first_offset):
            handle_record(state.pipeline, record.key, record.value,
                          LogPosition(topic, partition, record.offset),
                          max_bytes=settings.max_article_bytes)
            count += 1
        state.warm = True
        mismatched = [
            sid for sid in state.pipeline.story_ids
            if (head := story_heads.get(sid)) is not None
            and head.get("revision") != _revision(state.pipeline, sid)
        ]
        log.info("warm_up_done", records=count, from_offset=start,
                 stories=len(state.pipeline.story_ids),
                 seconds=round(time.perf_counter() - started, 3),
                 heads_mismatched=len(mismatched))
        if mismatched:
            log.error("table_heads_differ_from_rebuild", story_ids=mismatched[:20],
                      hint="the core changed without a new pipeline version; replay it")

    @app.timer(interval=2.0)  # type: ignore[untyped-decorator]  # faust's timer is untyped
    async def snapshot_when_due() -> None:
        if state.warm:
            for (topic, partition), taker in sorted(snapshotters.items()):
                taker.tick(state.pipeline, topic, partition, timer=True)

    @app.agent(articles)
    async def process_articles(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            position = LogPosition(message.topic, message.partition, message.offset)
            if not state.warm:
                if message.offset > 0 and state.pipeline.applied_offset(
                        message.topic, message.partition) is None:
                    await warm_up(message.topic, message.partition, message.offset)
                state.warm = True
            bound = structlog.contextvars.bound_contextvars(offset=message.offset)
            with bound:
                await _process_one(message.key, message.value, position)
            snapshotter(message.topic, message.partition).record_folded(
                state.pipeline, message.topic, message.partition)

    async def _process_one(key: bytes | None, value: bytes | None,
                           position: LogPosition) -> None:
        try:
            outcome = handle_record(state.pipeline, key, value, position,
                                    max_bytes=settings.max_article_bytes)
            if outcome.dead_letter is not None:
                await _dead_letter(outcome.dead_letter)
            for produced in outcome.events:
                if isinstance(produced, StoryUpdated):
                    produced = await _summarised(produced)
                await updates.send(key=story_key(produced), value=canonical_bytes(produced))
                if isinstance(produced, StoryUpdated):
                    story_heads[produced.story_id] = {
                        "revision": produced.revision,
                        "content_hash": produced.content_hash,
                        "article_count": produced.article_count,
                        "offset": position.offset,
                    }
                    log.info("story_updated", story_id=produced.story_id,
                             revision=produced.revision, article_id=produced.cause.article_uri,
                             articles=produced.article_count)
            if outcome.article is not None:
                joined = _story_of(outcome.events)
                article_index[outcome.article.uri] = {
                    "story_id": joined,
                    "version": outcome.article.version,
                    "offset": position.offset,
                }
        except Exception as exc:
            log.exception("record_failed")
            await _dead_letter(DeadLetter(
                stage="worker", error_type=type(exc).__name__, reason=str(exc) or repr(exc),
                source_topic=position.topic, source_partition=position.partition,
                source_offset=position.offset,
                key=key.decode("utf-8", "replace") if key else None,
                payload=(value or b"")[:65536].decode("utf-8", "replace"),
                payload_truncated=len(value or b"") > 65536,
            ))

    async def _summarised(update: StoryUpdated) -> StoryUpdated:
        """The optional LLM summary. Its record is durable on the summaries topic before the
        revision that uses it is published, so replay always finds it."""
        result = await summariser.summarise(update)
        if result.record is not None:
            delivered = await summaries.send(key=update.story_id.encode(),
                                             value=canonical_bytes(result.record))
            await delivered
        return result.update

    async def _dead_letter(letter: DeadLetter) -> None:
        log.warning("dead_letter", error_type=letter.error_type, reason=letter.reason,
                    source_offset=letter.source_offset)
        await dead_letters.send(key=(letter.key or "").encode(), value=canonical_bytes(letter))

    return app


def _story_of(events: list[PipelineEvent]) -> str | None:
    for produced in events:
        if isinstance(produced, StoryUpdated):
            return produced.story_id
    return None


def _revision(pipeline: Pipeline, story_id: str) -> int | None:
    story = pipeline.story(story_id)
    return story.revision if story is not None else None


def run_worker(settings: Settings, *, loglevel: str = "warning", web_port: int | None = None
               ) -> None:
    (settings.data_dir / "worker").mkdir(parents=True, exist_ok=True)
    app = create_app(settings, web_port=web_port)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()

