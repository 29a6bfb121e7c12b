"""The whole core as one deterministic state machine over the articles log.

``Pipeline.process(article, position)`` extracts facts, assigns the article to a story,
folds it in and returns the events to publish: the composition of the three stages of
:mod:`storyline.domain.stages` (``extract``, ``Assigner.assign``, ``Pipeline.fold``). The
same sequence of (article, position) always yields the same events, byte for byte: this is
what lets ``storyline replay --verify`` rebuild every revision from offset 0 and what makes
redeliveries harmless.
"""

from __future__ import annotations

import heapq
import pickle
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from storyline import __version__
from storyline.domain.assign.clustering import Clusterer, ClusteringConfig
from storyline.domain.canonical import tuning_digest
from storyline.domain.coldstore import ColdStore, MemoryColdStore
from storyline.domain.contracts import Absorbed, ArticleAssigned, ArticleExtracted
from storyline.domain.events import (
    ArticleReceived,
    Cause,
    ChangeReason,
    StoryMerged,
    StoryPage,
    StoryUpdated,
    SummaryParagraph,
)
from storyline.domain.extract.extractor import EXTRACTOR_VERSION
from storyline.domain.facts import STORED
from storyline.domain.fingerprint import content_fingerprint
from storyline.domain.packing import pack, unpack
from storyline.domain.page.story import (
    Change,
    MovedStory,
    StoryState,
    absorb,
    build_revision,
    fold_article,
    replace_summary,
    restore_window_facts,
    store_facts,
    withdraw_article,
)
from storyline.domain.page.summary import SummaryMemo
from storyline.domain.page.tuning import PAGE
from storyline.domain.stages import (
    Assigner,
    ConflictingVersion,
    LogPosition,
    extract,
)
from storyline.domain.unpickle import unpickled

# Bump when the code of the core changes what a revision contains, so that two versions
# replayed side by side are told apart in every StoryUpdated. The tuning of the assign and
# page stages (ClusteringConfig, page.tuning.PAGE) is in the version by its digest.
CORE_VERSION = "core-25"


def pipeline_version(clustering: ClusteringConfig) -> str:
    """``storyline-<release>/<core>+<assign tuning>.<page tuning>/<extractor>+<its tuning>``."""
    return (f"storyline-{__version__}/{CORE_VERSION}+{tuning_digest(clustering)}"
            f".{tuning_digest(PAGE)}/{EXTRACTOR_VERSION}")


PIPELINE_VERSION = pipeline_version(ClusteringConfig())

PipelineEvent = StoryUpdated | StoryMerged

# The layout of the pickled state (snapshots). Bump whenever a class of the state changes
# its fields or its module (a pickle names it by module), so a snapshot written by other
# code is refused instead of misread.
STATE_LAYOUT = 45
# A story not revised for WARM_IDLE revisions of the log is frozen: its state goes to the
# cold store (storyline.domain.coldstore; RocksDB on the worker) as a pickle packed by
# storyline.domain.packing, about a third of its size as objects, without its summary memo
# (the analyses of its window, ~25 kB an article), and is thawed when the story moves again
# or is read (the memo is then rebuilt from the packed analyses the extract stage made:
# ~0.6 ms an article, against ~12 ms to analyse the facts again). Both only save work,
# never change a byte (a snapshot is the same pickle round trip), so memory follows the
# stories in play, not the log's history. WARM_ANALYSES caps the analyses kept in any
# case: beyond it stories drop their memos even while in play, those whose revision
# before their last is oldest first (LRU-2, Pipeline._drop_memos; a cap below what the
# active stories' windows need would rebuild memos on every revision).
WARM_IDLE = 2_000
WARM_ANALYSES = 8_192
# WARM_IDLE is a rate of exchange between memory and thawing work: a story of n articles
# whose memo holds them all costs, thawed, the refill of n analyses (~0.6 ms each) and the
# freeze and thaw of n articles (~0.2 ms each: the packed pickle of the citation data, list
# entry and timeline, measured over entities-dev's largest stories), and it is kept for
# WARM_IDLE revisions of n articles held. A story of n articles with only a analyses in its
# memo (a long story: its window's 240; one whose memo was dropped: none) costs less to
# thaw per article it holds, so at the same rate it is kept for fewer revisions:
# WARM_IDLE * (REFILL_COST * a + n) / ((REFILL_COST + 1) * n), down to WARM_IDLE / 4 (the
# rent-or-buy break-even: idle until the memory it held pays for its thaw). A long
# story that stopped moving leaves after ~500-600 revisions, not 2,000; a small one is
# kept as long as before.
REFILL_COST = 3  # refilling a memo analysis, in freezes and thaws of one article
# And a ceiling on what the stories in play hold (articles, withdrawn ones included: their
# citation data, list entries and timeline statements are most of a story in play, ~8-10
# kB an article on the synthetic log): beyond it stories are frozen whatever their
# idleness (never the one being revised), those whose revision before their last is oldest
# first (LRU-2, Pipeline._over_budget_victim), and their memos wait beside the cold store
# for their thaw while WARM_ANALYSES leaves room (Pipeline._memos_aside).
# It is a guard against many stories moving at once, not the working bound: below the
# articles held by the stories revised in the last few hundred revisions, every revision
# thaws one of them again (~0.2 ms an article, and a memo refill when it had no room). On
# the synthetic log that hot set reaches ~32,800 articles at 4-5x10^4 (a few long stories
# at once); a ceiling of 32,768 made the fold there ~3x slower per article
# (docs/benchmarks.md, "A size budget for the stories in play"), so the ceiling is twice
# that.
WARM_ITEMS = 65_536
# What the pipeline and the clusterer keep by article uri (the story it joined, its version
# and content fingerprint, its clustering vector) is kept in memory for the WARM_ARTICLES
# most recently written uris only; older entries go to the cold store and are read from
# there (a correction, a withdrawal, a resend or a copy of an old article), so memory does
# not grow with the log's history. Like freezing, where an entry is changes no byte.
WARM_ARTICLES = 8_192


@dataclass(slots=True)
class Warmth:
    """What keeping the stories warm has done in this process so far, and where the budgets
    stand (``Pipeline.warmth``): for the operator's metrics, never pickled. Stories frozen
    over the articles budget (``frozen_over_budget``) and thawed again soon are what a hot
    set larger than WARM_ITEMS costs; analyses dropped over WARM_ANALYSES are refilled
    (~0.6 ms each) when their story moves."""

    frozen_idle: int = 0
    frozen_over_budget: int = 0
    thawed: int = 0
    analyses_dropped: int = 0
    articles_in_play: int = 0
    articles_budget: int = 0
    analyses_kept: int = 0
    analyses_budget: int = 0


def _freeze(state: StoryState) -> bytes:
    """A story's state packed for its cold store (without its summary memo)."""
    return pack(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def _held(state: StoryState) -> int:
    """What a story in play weighs, for WARM_ITEMS and REFILL_COST: the articles it holds
    (their citation data, list entries and timeline statements), at least one."""
    return max(1, len(state.articles) + len(state.withdrawn))


def _set_aside(memo: SummaryMemo, state: StoryState) -> tuple[SummaryMemo, dict[str, int]]:
    """``memo`` of ``state`` being frozen, kept for its thaw without the window's facts it
    points to (they are in the frozen state: held here, they would weigh as the state did),
    and the version of each of its articles, to check the thawed state by."""
    articles = state.articles
    analyses = memo.analyses
    versions: dict[str, int] = {}
    for uri, (_, analysis) in analyses.items():
        article = articles.get(uri)
        versions[uri] = -1 if article is None else article.version
        analyses[uri] = (STORED, analysis)
    memo.window_originals = None  # one revision's: holds the old articles
    return memo, versions


def _reattached(memo: SummaryMemo, versions: dict[str, int], state: StoryState
                ) -> SummaryMemo:
    """``memo``, set aside when ``state`` was frozen (``_set_aside``), for ``state`` thawed:
    the memo knows an article's facts by identity (``summary.analysed``), so its entries
    are pointed at the thawed articles' facts. A frozen story does not move, so each of its
    articles is there in the version the memo was made of; if one were not, the memo would
    not be this state's, and an empty one is refilled instead, as after any thaw."""
    articles = state.articles
    analyses = memo.analyses
    for uri, (_, analysis) in analyses.items():
        article = articles.get(uri)
        if article is None or article.version != versions.get(uri):
            return SummaryMemo()
        analyses[uri] = (article.facts, analysis)
    return memo


def _thaw(blob: bytes) -> StoryState:
    state = unpickled(unpack(blob))  # packed by this code (the store is ours)
    if not isinstance(state, StoryState):
        raise TypeError(f"a cold story holds a {type(state).__name__}")
    return state


__all__ = ["ConflictingVersion", "LogPosition", "Pipeline", "PipelineEvent", "Warmth",
           "content_fingerprint"]


class Pipeline:
    """Owns every story state (the fold's state) and the assign stage's state (the
    clusterer, versions by uri); see the module docstring."""

    def __init__(self, clustering: ClusteringConfig | None = None,
                 cold: ColdStore | None = None, warm_idle: int | None = None,
                 warm_items: int | None = None, warm_analyses: int | None = None) -> None:
        clustering = clustering or ClusteringConfig()
        self._assigner = Assigner(Clusterer(clustering), WARM_ARTICLES)
        # story id -> its state while in play, None while frozen (its state in self._cold);
        # insertion order is the order stories were made in
        self._stories: dict[str, StoryState | None] = {}
        self._cold: ColdStore | None = cold if cold is not None else MemoryColdStore()
        # revisions after which an idle story is frozen (None: WARM_IDLE), articles the
        # stories in play may hold (None: WARM_ITEMS) and analyses their memos may keep
        # (None: WARM_ANALYSES): only memory and thawing work depend on them, never a
        # revision, so they are settings of a process, not state (see WorkerState.restore)
        self.warm_idle = warm_idle
        self.warm_items = warm_items
        self.warm_analyses = warm_analyses
        self._applied: dict[tuple[str, int], int] = {}  # (topic, partition) -> last offset
        # (topic, partition) -> (offset, timestamp ms) of the first record folded from it:
        # which log this state is a fold of (a topic made again begins with another record)
        self._log_marks: dict[tuple[str, int], tuple[int, int]] = {}
        # story not frozen -> (analyses in its summary memo, revision count when last
        # revised or thawed, articles it holds: _held), least recently first
        self._live: OrderedDict[str, tuple[int, int, int]] = OrderedDict()
        self._warm_total = 0  # analyses in the memos of the stories in _live
        self._live_items = 0  # articles held by the stories in _live
        # frozen story -> its summary memo and its articles' versions (_set_aside), for the
        # stories frozen over WARM_ITEMS (not idle: they may move again soon), while
        # WARM_ANALYSES leaves room for them (_drop_memos): a thaw then refills nothing
        self._memos_aside: dict[str, tuple[SummaryMemo, dict[str, int]]] = {}
        self._aside_total = 0  # analyses in the memos of _memos_aside
        # story in play or with its memo aside -> (revision count at its last revision, at
        # the one before it or -1): which memos go first over WARM_ANALYSES (_drop_memos)
        # (kept, too, for a story frozen over WARM_ITEMS, for its thaw: until WARM_IDLE
        # revisions after its last; _forget_history)
        self._history: dict[str, tuple[int, int]] = {}
        # the stories in play by (revision before their last, last revision, id): a heap
        # whose entries are checked against _history and _live when read
        # (_over_budget_victim), rebuilt when it outgrows them
        self._by_history: list[tuple[int, int, str]] = []
        self._warmth = Warmth()  # its counts; see warmth
        self._revisions = 0
        self.pipeline_version = pipeline_version(clustering)
        self.state_layout = STATE_LAYOUT
        self._attach_spilled()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._cold is not None and self._cold.external:
            state["_cold"] = None  # saved beside the snapshot; see attach_cold_store
        # memos are caches, and which to drop first only costs: never pickled
        del state["_memos_aside"], state["_aside_total"], state["_history"]
        del state["_by_history"]
        del state["_warmth"]  # a process's figures
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._memos_aside = {}
        self._aside_total = 0
        self._history = {}
        self._warmth = Warmth()
        self._by_history = []
        # story states come back without their summary memos (StoryState.__getstate__);
        # (a pickle of another layout, refused below, may hold pairs)
        self._live = OrderedDict((story_id, (0, held[1], held[2] if len(held) > 2 else 0))
                                 for story_id, held in self._live.items())
        self._warm_total = 0
        self._live_items = sum(size for _, _, size in self._live.values())  # ints
        self._rebuild_by_history()
        if state.get("state_layout") != STATE_LAYOUT:
            # Written by code with another state layout: claim no position, so the snapshot
            # loader refuses it ("content does not match its header") and folds from 0.
            self._applied = {}

    # -- snapshots ---------------------------------------------------------------------------

    def stories_apart(self) -> tuple[bytes, list[tuple[str, bytes]]]:
        """This pipeline pickled without the states of its stories in play, and those
        states packed one by one as freezing packs them (story id, bytes), in the order the
        stories were made. A reader restores the pipeline, then hands the packed states to
        :meth:`park` (no state is unpickled until its story is touched), so loading costs
        what the pipeline's own parts cost, not what its history made the stories weigh.
        Like freezing, this changes no byte of any revision."""
        held = self._stories
        apart = [(story_id, _freeze(state)) for story_id, state in held.items()
                 if state is not None]
        self._stories = dict.fromkeys(held)  # every story frozen, in the same order
        try:
            core = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            self._stories = held
        return core, apart

    def park(self, story_id: str, packed: bytes) -> None:
        """Put a state set aside by :meth:`stories_apart` into the cold store; it is thawed
        when its story is touched, and keeps its place among the stories in play."""
        if story_id not in self._stories or self._stories[story_id] is not None:
            raise ValueError(f"story {story_id} was not set aside by this snapshot")
        self.cold_store.put(story_id, packed)

    # -- the cold store --------------------------------------------------------------------

    @property
    def needs_cold_store(self) -> bool:
        """True after unpickling a pipeline whose cold store is external: it must be given
        the store saved with it (:meth:`attach_cold_store`) before it folds or reads."""
        return self._cold is None

    def attach_cold_store(self, cold: ColdStore) -> None:
        self._cold = cold
        self._attach_spilled()

    def _attach_spilled(self) -> None:
        cold = self._cold
        if cold is None:
            return
        self._assigner.attach_cold_store(cold)

    @property
    def cold_store(self) -> ColdStore:
        if self._cold is None:
            raise RuntimeError("this pipeline's cold store has not been attached")
        return self._cold

    @property
    def warmth(self) -> Warmth:
        """This process's counts of freezes, thaws and dropped analyses, with the budgets'
        use now (a copy)."""
        return replace(
            self._warmth, articles_in_play=self._live_items,
            articles_budget=WARM_ITEMS if self.warm_items is None else self.warm_items,
            analyses_kept=self._warm_total + self._aside_total,
            analyses_budget=WARM_ANALYSES if self.warm_analyses is None else self.warm_analyses)

    @property
    def frozen_story_count(self) -> int:
        return sum(1 for state in self._stories.values() if state is None)  # ints

    # -- reading ---------------------------------------------------------------------------

    @property
    def assigner(self) -> Assigner:
        return self._assigner

    def resolve(self, story_id: str) -> str:
        return self._assigner.resolve(story_id)

    def story_of(self, uri: str) -> str | None:
        """The story that holds the article ``uri`` now (after merges), if it joined one."""
        joined = self._assigner.story_of.get(uri)
        return self.resolve(joined) if joined is not None else None

    def story(self, story_id: str) -> StoryState | None:
        return self._state(self.resolve(story_id))

    def _state(self, story_id: str) -> StoryState | None:
        """The story's state, thawed (and counted as in play again) when frozen."""
        if story_id not in self._stories:
            return None
        found = self._stories[story_id]
        if found is None:
            blob = self.cold_store.get(story_id)
            if blob is None:
                raise LookupError(f"story {story_id} is frozen but not in the cold store")
            found = self._stories[story_id] = _thaw(blob)
            self._warmth.thawed += 1
            aside = self._memos_aside.pop(story_id, None)
            if aside is not None:
                memo, versions = aside
                self._aside_total -= len(memo.analyses)
                found.summary_memo = _reattached(memo, versions, found)
            if story_id not in self._live:
                size = _held(found)
                analyses = len(found.summary_memo.analyses)
                self._live[story_id] = (analyses, self._revisions, size)
                self._live_items += size
                self._warm_total += analyses
                heapq.heappush(self._by_history, (*self._rank(story_id), story_id))
            # else: set aside by a snapshot (stories_apart) while in play; it keeps its
            # place in the idle order it had then
        self._attach_timeline(found)
        return found

    def _attach_timeline(self, state: StoryState) -> None:
        """Give the story's timeline the store for its cold months (not pickled with it)."""
        state.timeline.attach(self._cold, f"timeline:{state.story_id}:")

    @property
    def story_ids(self) -> list[str]:
        return list(self._stories)

    def page(self, story_id: str) -> StoryPage | None:
        """The story's latest page (the one its latest StoryUpdated leads to)."""
        state = self.story(story_id)
        return state.last if state is not None else None

    def replace_summary(self, update: StoryUpdated, paragraphs: tuple[SummaryParagraph, ...]
                        ) -> StoryUpdated:
        """The latest revision ``update`` with another summary (a recorded LLM summary); the
        story's next revision follows the page with that summary."""
        state = self._state(self.resolve(update.story_id))
        if state is None:
            raise ValueError(f"unknown story {update.story_id}")
        return replace_summary(state, update, paragraphs)

    def applied_offset(self, topic: str, partition: int) -> int | None:
        return self._applied.get((topic, partition))

    def log_mark(self, topic: str, partition: int) -> tuple[int, int] | None:
        """(offset, timestamp ms) of the first record folded from (topic, partition); None
        when not known (nothing folded, or a state of before the mark)."""
        return self._log_marks.get((topic, partition))

    def mark_log(self, topic: str, partition: int, offset: int, timestamp: int) -> None:
        """Record the first record folded from (topic, partition): called by the adapter
        that folded it, for a state that had folded nothing from there before."""
        self._log_marks.setdefault((topic, partition), (offset, timestamp))

    def is_applied(self, position: LogPosition) -> bool:
        last = self._applied.get((position.topic, position.partition))
        return last is not None and position.offset <= last

    def pass_over(self, position: LogPosition) -> None:
        """Count a record that carries no article (a poison record, dead-lettered) as
        applied, so the position says what has been dealt with, not what was usable."""
        if not self.is_applied(position):
            self._applied[(position.topic, position.partition)] = position.offset

    # -- the fold --------------------------------------------------------------------------

    def claim(self, position: LogPosition) -> bool:
        """Count ``position`` as applied; False when it was (a redelivery: skip it)."""
        key = (position.topic, position.partition)
        last = self._applied.get(key)
        if last is not None and position.offset <= last:
            return False
        self._applied[key] = position.offset
        return True

    def process(self, article: ArticleReceived, position: LogPosition, *,
                pages: bool = True) -> list[PipelineEvent]:
        """Extract, assign and fold one article; ``pages=False``: extract and assign only
        (the assign process of a staged worker whose page stage runs in processes of its
        own), so the story states stay empty and no event comes out."""
        if not self.claim(position):
            return []  # a redelivery of something already folded
        extracted = extract(article, position)
        assigned = self._assigner.assign(extracted)
        if assigned is None or not pages:
            return []
        return self.fold(assigned, extracted)

    def fold(self, assigned: ArticleAssigned, extracted: ArticleExtracted,
             moved_in: Callable[[Absorbed], MovedStory] | None = None
             ) -> list[PipelineEvent]:
        """The fold stage: ``assigned`` (with its article's ``extracted``) into the story
        states; the events to publish. A merged story this pipeline does not hold (it was
        folded on another page partition) is rebuilt by ``moved_in`` (``handover``); with
        none, such a merge moves nothing."""
        if (extracted.uri, extracted.version, extracted.position) != (
                assigned.uri, assigned.version, assigned.position):
            raise ValueError(f"the facts of {extracted.uri} v{extracted.version} are not those "
                             f"of the assignment of {assigned.uri} v{assigned.version}")
        cause = Cause(
            article_uri=assigned.uri,
            article_version=assigned.version,
            topic=assigned.position.topic,
            partition=assigned.position.partition,
            offset=assigned.position.offset,
        )
        story_id = assigned.story_id
        if assigned.withdrawal:
            return self._withdraw(extracted, story_id, cause)
        facts, summary, timeline = extracted.facts, extracted.summary, extracted.timeline
        if facts is None or summary is None or timeline is None:
            raise ValueError(f"{extracted.uri} v{extracted.version} was not extracted")

        state = self._state(story_id)
        if state is None:
            state = self._stories[story_id] = StoryState(story_id=story_id)
            self._attach_timeline(state)

        events: list[PipelineEvent] = []
        merged_uris: list[str] = []
        for merge in assigned.merges:
            absorbed_id = merge.story_id
            absorbed = self._state(absorbed_id)
            if absorbed is not None:
                self.let_go(absorbed_id)
            if absorbed is state:
                continue
            moved: StoryState | MovedStory
            if absorbed is not None:
                moved = absorbed  # absorb guides the survivor's timeline by its own
            elif moved_in is not None:
                moved = moved_in(merge)
            else:
                continue
            merged_uris.extend(absorb(state, moved).articles_added)
            events.append(
                StoryMerged(
                    survivor_id=story_id,
                    absorbed_id=absorbed_id,
                    survivor_revision=state.revision + 1,
                    cause=cause,
                    pipeline_version=self.pipeline_version,
                )
            )

        change = fold_article(state, extracted, facts, duplicate_of=assigned.duplicate_of,
                              timeline=timeline, summary=summary)
        if merged_uris:
            added = (*merged_uris, *(change.articles_added if change else ()))
            change = Change(reason=ChangeReason.MERGE, articles_added=added)
        if change is None:
            return events
        events.append(self._revise(state, change, cause))
        return events

    def let_go(self, story_id: str) -> None:
        """Forget the story ``story_id``: merged into another (here, or on the page
        partition that folds the survivor, which rebuilds it from the facts)."""
        self._stories.pop(story_id, None)
        self.cold_store.delete(story_id)
        aside = self._memos_aside.pop(story_id, None)
        if aside is not None:
            self._aside_total -= len(aside[0].analyses)
        self._history.pop(story_id, None)
        analyses, _, size = self._live.pop(story_id, (0, 0, 0))
        self._warm_total -= analyses
        self._live_items -= size

    def _revise(self, state: StoryState, change: Change, cause: Cause) -> StoryUpdated:
        restore_window_facts(state, self.cold_store)
        update = build_revision(state, change, cause=cause,
                                pipeline_version=self.pipeline_version, store=self.cold_store)
        store_facts(state, self.cold_store, change)
        state.timeline.let_cold_months_go()
        self._keep_warm(state)
        return update

    def _keep_warm(self, state: StoryState) -> None:
        """Count ``state`` as the most recently revised story; freeze the stories idle for
        longer than their thaw is worth (WARM_IDLE, shorter for long stories: REFILL_COST)
        and the least recently revised ones while the stories in play hold more than
        WARM_ITEMS articles; drop the memos of the least recently revised ones while more
        than WARM_ANALYSES analyses are kept."""
        live = self._live
        self._revisions += 1
        count = len(state.summary_memo.analyses)
        size = _held(state)
        analyses, _, was = live.pop(state.story_id, (0, 0, 0))
        self._warm_total += count - analyses
        self._live_items += size - was
        live[state.story_id] = (count, self._revisions, size)
        self._history[state.story_id] = (
            self._revisions, self._history.get(state.story_id, (-1, -1))[0])
        heapq.heappush(self._by_history, (*self._rank(state.story_id), state.story_id))
        idle_after = WARM_IDLE if self.warm_idle is None else self.warm_idle
        # oldest first; none kept past WARM_IDLE, none frozen within WARM_IDLE / 4
        leaving = []
        for story_id, (analyses, last, size) in live.items():
            idle = self._revisions - last
            if idle * (REFILL_COST + 1) <= idle_after:
                break
            if (idle * (REFILL_COST + 1) * size
                    > idle_after * (REFILL_COST * min(analyses, size) + size)):
                leaving.append(story_id)
        for story_id in leaving:
            self._freeze_story(story_id)
        items = WARM_ITEMS if self.warm_items is None else self.warm_items
        while self._live_items > items:
            victim = self._over_budget_victim(state.story_id)
            if victim is None:
                break
            self._freeze_story(victim, over_budget=True)
        if self._revisions % max(1, idle_after) == 0:
            self._forget_history(idle_after)
        if len(self._by_history) > 4 * len(live) + 1_024:
            self._rebuild_by_history()
        kept = WARM_ANALYSES if self.warm_analyses is None else self.warm_analyses
        if self._warm_total + self._aside_total > kept:
            self._drop_memos(kept, state.story_id)

    def _rank(self, story_id: str) -> tuple[int, int]:
        """(revision before its last or -1, last revision) of a story in play or with its
        memo aside: which goes first over WARM_ITEMS and WARM_ANALYSES, the smallest. A
        story with no revision on record (thawed for a read, or since a restore) ranks by
        when it came into play."""
        found = self._history.get(story_id)
        if found is None:
            held = self._live.get(story_id)
            return -1, -1 if held is None else held[1]
        return found[1], found[0]

    def _over_budget_victim(self, current: str) -> str | None:
        """The story in play to freeze over WARM_ITEMS (never ``current``): the one whose
        revision before its last is oldest (LRU-2; revised once since it came into play:
        first, by its last revision). Freezing by the last revision alone (LRU) freezes,
        when more long stories move than the ceiling holds, each one shortly before its
        next revision, to thaw it again (a long story: ~100 ms each way); the revision
        before the last tells the stories that move often from one that moved once."""
        heap, live = self._by_history, self._live
        skipped = None
        while heap:
            prev, last, story_id = heap[0]
            if story_id not in live or self._rank(story_id) != (prev, last):
                heapq.heappop(heap)  # frozen, let go or revised since: a stale entry
            elif story_id == current:
                skipped = heapq.heappop(heap)
            else:
                break
        victim = heap[0][2] if heap else None
        if skipped is not None:
            heapq.heappush(heap, skipped)
        return victim

    def _rebuild_by_history(self) -> None:
        self._by_history = [(*self._rank(story_id), story_id) for story_id in self._live]
        heapq.heapify(self._by_history)

    def _forget_history(self, idle_after: int) -> None:
        """Let go of the revisions on record of the stories frozen over WARM_ITEMS more
        than ``idle_after`` revisions after their last (idle by then: a thaw starts their
        record again), so the record follows the stories in play, not the log."""
        live, aside, oldest = self._live, self._memos_aside, self._revisions - idle_after
        gone = [story_id for story_id, (last, _) in self._history.items()
                if last < oldest and story_id not in live and story_id not in aside]
        for story_id in gone:
            del self._history[story_id]

    def _drop_memos(self, kept: int, current: str) -> None:
        """Drop memos (never ``current``'s) until at most ``kept`` analyses are kept, those
        of the stories whose revision before their last is oldest first (LRU-2; never
        revised twice since they came into play: first, by their last revision). The last
        revision alone (LRU) drops, when more long stories move at once than their memos
        fit, each one's memo just before its next revision; the one before it tells the
        stories that move often from one that moved once."""
        live, aside = self._live, self._memos_aside
        held = [story_id for story_id, (analyses, _, _) in live.items()
                if analyses and story_id != current]
        held.extend(aside)
        order = sorted(held, key=lambda story_id: (*self._rank(story_id), story_id))
        for story_id in order:
            if self._warm_total + self._aside_total <= kept:
                break
            put = aside.pop(story_id, None)
            if put is not None:
                count = len(put[0].analyses)
                self._aside_total -= count
                self._warmth.analyses_dropped += count
                continue
            analyses, last, size = live[story_id]
            live[story_id] = (0, last, size)
            self._warm_total -= analyses
            self._warmth.analyses_dropped += analyses
            state = self._stories.get(story_id)
            if state is not None:
                state.summary_memo = SummaryMemo()

    def _freeze_story(self, story_id: str, over_budget: bool = False) -> None:
        """Take ``story_id`` out of play: its state to the cold store. ``over_budget``: for
        WARM_ITEMS, not idle (it may move again soon): its memo is kept aside (see
        _memos_aside) when it has analyses."""
        analyses, _, size = self._live.pop(story_id)
        self._warm_total -= analyses
        self._live_items -= size
        idle = self._stories.get(story_id)
        if idle is not None:
            self.cold_store.put(story_id, _freeze(idle))
            self._stories[story_id] = None
            if over_budget:
                self._warmth.frozen_over_budget += 1
            else:
                self._warmth.frozen_idle += 1
            memo = idle.summary_memo
            if over_budget and memo.analyses:
                self._memos_aside[story_id] = _set_aside(memo, idle)
                self._aside_total += len(memo.analyses)
        if not over_budget:
            self._history.pop(story_id, None)

    def _withdraw(self, extracted: ArticleExtracted, story_id: str, cause: Cause
                  ) -> list[PipelineEvent]:
        state = self._state(story_id)
        if state is None:
            raise KeyError(story_id)
        change = withdraw_article(state, extracted)
        if change is None:
            return []
        return [self._revise(state, change, cause)]
