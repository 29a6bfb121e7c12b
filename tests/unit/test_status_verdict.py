"""`storyline status`: the verdict from observed facts (pure: no broker)."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import pytest

from storyline.commands.status import (
    Code,
    Facts,
    Watch,
    combined,
    report,
    report_all,
    stalled_for,
    verdict,
)

TOPIC = "p.storyline.articles"
STUCK_AFTER = 60.0


def facts(end: int = 10, committed: int | None = 4, *, state: str | None = "Stable",
          members: int | None = 1, commit_age: float | None = 5.0,
          pending_age: float | None = 5.0, memberless_for: float | None = None,
          unchanged_for: float | None = None) -> Facts:
    return Facts(topic=TOPIC, ends={0: end},
                 committed={} if committed is None else {0: committed},
                 state=state, members=members, last_commit_age=commit_age,
                 pending_age=pending_age, memberless_for=memberless_for,
                 unchanged_for=unchanged_for, group="p.storyline-worker")


def judge(f: Facts, grace: float | None = None) -> Code:
    return verdict(f, stuck_after=STUCK_AFTER, grace=grace).code


# --- lag arithmetic ------------------------------------------------------------------------


def test_lag_is_per_partition_and_never_negative() -> None:
    f = Facts(topic=TOPIC, ends={0: 10, 1: 5, 2: 0}, committed={0: 10, 1: 2, 2: 0})
    assert (f.end, f.done, f.lag) == (15, 12, 3)
    # a partition with nothing committed counts from 0; a commit beyond the end (a
    # truncated log) is not progress somewhere else
    g = Facts(topic=TOPIC, ends={0: 10, 1: 5}, committed={0: 12})
    assert (g.done, g.lag) == (10, 5)


# --- the codes -----------------------------------------------------------------------------


def test_a_missing_topic_is_an_error_not_caught_up() -> None:
    found = verdict(Facts(topic=TOPIC, ends={}, committed={}), stuck_after=STUCK_AFTER)
    assert found.code is Code.ERROR and found.final
    assert TOPIC in found.message and "does not exist" in found.message


def test_records_off_the_articles_log_are_an_error_whatever_the_log_says() -> None:
    """A producer that let the key's hash pick a partition of a many-partition topic: the
    log itself may be caught up, but those articles are never folded."""
    for base in (facts(end=10, committed=10), facts(end=10, committed=4)):
        found = verdict(replace(base, off_the_log={2: 3, 1: 1}), stuck_after=STUCK_AFTER)
        assert found.code is Code.ERROR and found.final
        assert found.message.startswith(f"4 records on partitions 1, 2 of {TOPIC}: the "
                                        "articles log is partition 0"), found.message


def test_a_commit_beyond_the_end_of_the_log_is_an_error_not_caught_up() -> None:
    """The articles topic deleted and made again under a worker: 3 new records, a commit
    at 5 from the old log. It read as "caught up" (min(commit, end) = end) while the new
    records were skipped as redeliveries."""
    found = verdict(facts(end=3, committed=5), stuck_after=STUCK_AFTER)
    assert found.code is Code.ERROR and found.final
    assert found.message.startswith(f"the worker committed offset 5 of {TOPIC} partition 0, "
                                    "which ends at 3: the topic was deleted and made again")
    assert judge(facts(end=5, committed=5)) is Code.CAUGHT_UP


def test_a_log_made_again_past_the_commit_is_an_error_not_caught_up() -> None:
    """A topic made again that has grown past the commit: the lag reads as any other; the
    log's first record is not the one the commits name (``Facts.replaced``)."""
    why = "p.storyline.articles partition 0 begins with another record than the log ..."
    found = verdict(replace(facts(end=9, committed=9), replaced=why), stuck_after=STUCK_AFTER)
    assert found.code is Code.ERROR and found.final and found.message == why
    assert judge(facts(end=9, committed=9)) is Code.CAUGHT_UP


@pytest.mark.parametrize("committed", [4, 10])
def test_commits_of_another_pipeline_version_are_an_error_not_behind_or_caught_up(
        committed: int) -> None:
    """The commits were made by another version (``Facts.changed``): this code's workers
    refuse to go on from them, so neither "behind" (it would wait for ever) nor "caught up"
    (its revisions are not this version's)."""
    why = "the commits of group p.storyline-worker were made by pipeline v1, and this is v2"
    found = verdict(replace(facts(end=10, committed=committed), changed=why),
                    stuck_after=STUCK_AFTER)
    assert found.code is Code.ERROR and found.final and found.message == why


@pytest.mark.parametrize("members,state", [(1, "Stable"), (0, "Empty"), (0, "Dead"),
                                           (None, None)])
def test_caught_up_whatever_the_group(members: int | None, state: str | None) -> None:
    found = verdict(facts(10, 10, members=members, state=state, commit_age=9999.0),
                    stuck_after=STUCK_AFTER)
    assert found.code is Code.CAUGHT_UP and found.final
    assert "caught up" in found.message
    assert ("no worker is consuming" in found.message) == (members == 0)


def test_an_empty_log_is_nothing_to_do() -> None:
    for committed in (None, 0):
        found = verdict(facts(0, committed, members=0, state="Dead", commit_age=math.inf),
                        stuck_after=STUCK_AFTER)
        assert found.code is Code.CAUGHT_UP
        assert "empty" in found.message


@pytest.mark.parametrize("members,state", [(0, "Empty"), (0, "Dead"), (2, "Empty"),
                                           (0, "PreparingRebalance")])
def test_records_waiting_and_no_member_is_no_worker(members: int, state: str) -> None:
    found = verdict(facts(members=members, state=state, commit_age=9999.0),
                    stuck_after=STUCK_AFTER)
    assert found.code is Code.NO_WORKER and found.final
    assert f"no worker is consuming {TOPIC}" in found.message
    assert "6 records waiting" in found.message


def test_no_worker_waits_out_the_grace_while_watching() -> None:
    within = verdict(facts(members=0, state="Empty", memberless_for=3.0),
                     stuck_after=STUCK_AFTER, grace=5.0)
    assert within.code is Code.BEHIND and not within.final
    assert f"no worker is consuming {TOPIC} yet" in within.message
    past = verdict(facts(members=0, state="Empty", memberless_for=5.0),
                   stuck_after=STUCK_AFTER, grace=5.0)
    assert past.code is Code.NO_WORKER and "for 5 s" in past.message
    # the grace defaults to the stuck threshold
    assert judge(facts(members=0, state="Empty", memberless_for=59.0)) is Code.BEHIND
    assert judge(facts(members=0, state="Empty", memberless_for=60.0)) is Code.NO_WORKER


def test_an_undescribable_group_is_only_behind() -> None:
    found = verdict(facts(members=None, state=None, commit_age=9999.0, pending_age=9999.0),
                    stuck_after=STUCK_AFTER)
    assert found.code is Code.BEHIND and "could not be described" in found.message


def test_a_member_committing_is_behind() -> None:
    found = verdict(facts(members=1, commit_age=2.0, pending_age=120.0),
                    stuck_after=STUCK_AFTER)
    assert found.code is Code.BEHIND and not found.final
    assert "1 member consuming" in found.message


def test_one_look_stuck_needs_an_old_commit_and_an_old_waiting_record() -> None:
    found = verdict(facts(members=1, commit_age=300.0, pending_age=90.0),
                    stuck_after=STUCK_AFTER)
    assert found.code is Code.STUCK and found.final
    assert "commits stuck since 90 s" in found.message
    # an idle worker's last commit is old when a new record has just arrived: not stuck
    assert judge(facts(commit_age=3600.0, pending_age=1.0)) is Code.BEHIND
    # an old record may have been reached by a fresh commit: not stuck
    assert judge(facts(commit_age=1.0, pending_age=3600.0)) is Code.BEHIND
    # never committed, a record waiting for long, a member present: stuck
    assert judge(facts(committed=None, commit_age=math.inf, pending_age=120.0)) is Code.STUCK
    # the threshold itself counts as stuck
    assert judge(facts(commit_age=60.0, pending_age=60.0)) is Code.STUCK


@pytest.mark.parametrize("commit_age,pending_age", [(None, 9999.0), (9999.0, None),
                                                    (None, None)])
def test_one_look_cannot_prove_stuck_without_both_ages(commit_age: float | None,
                                                       pending_age: float | None) -> None:
    assert judge(facts(commit_age=commit_age, pending_age=pending_age)) is Code.BEHIND


def test_watching_decides_stuck_by_what_it_saw() -> None:
    # a worker that has just joined after an outage: old ages, but not watched for long
    assert judge(facts(commit_age=3600.0, pending_age=3600.0, unchanged_for=10.0,
                       memberless_for=0.0)) is Code.BEHIND
    found = verdict(facts(commit_age=3600.0, pending_age=3600.0, unchanged_for=61.0,
                          memberless_for=0.0), stuck_after=STUCK_AFTER)
    assert found.code is Code.STUCK and "commits stuck since 61 s" in found.message
    # offsets without our metadata: watching alone decides
    assert judge(facts(commit_age=None, pending_age=None, unchanged_for=61.0,
                       memberless_for=0.0)) is Code.STUCK
    # a fresh commit outweighs what was watched
    assert judge(facts(commit_age=1.0, unchanged_for=100.0, memberless_for=0.0)) is Code.BEHIND


def test_stalled_for() -> None:
    assert stalled_for(facts(commit_age=30.0, pending_age=20.0)) == 20.0
    assert stalled_for(facts(commit_age=math.inf, pending_age=20.0)) == 20.0
    assert stalled_for(facts(commit_age=None, pending_age=20.0)) is None
    assert stalled_for(facts(commit_age=None, pending_age=None, unchanged_for=7.0)) == 7.0
    assert stalled_for(facts(commit_age=math.inf, pending_age=None, unchanged_for=7.0)) == 7.0


AGES = [None, 0.0, 59.9, 60.0, math.inf]


@pytest.mark.parametrize("end,committed,members,state",
                         list(itertools.product([0, 10], [None, 0, 10],
                                                [None, 0, 1, 3],
                                                [None, "Stable", "Empty", "Dead",
                                                 "PreparingRebalance"])))
def test_every_combination_has_a_consistent_verdict(end: int, committed: int | None,
                                                    members: int | None,
                                                    state: str | None) -> None:
    """The codes partition the facts: the invariants hold for every combination."""
    for commit_age, pending_age, memberless, unchanged in itertools.product(
            AGES, AGES, [None, 0.0, 4.0, 100.0], [None, 0.0, 100.0]):
        f = facts(end, committed, members=members, state=state, commit_age=commit_age,
                  pending_age=pending_age, memberless_for=memberless, unchanged_for=unchanged)
        found = verdict(f, stuck_after=STUCK_AFTER, grace=5.0)
        no_member = members == 0 or state in ("Empty", "Dead")
        if committed is not None and committed > end:  # a log made again under the group
            assert found.code is Code.ERROR and found.final
            continue
        if f.lag == 0:
            assert found.code is Code.CAUGHT_UP
        elif members is None:
            assert found.code is Code.BEHIND
        elif no_member:
            expected = (Code.BEHIND if memberless is not None and memberless < 5.0
                        else Code.NO_WORKER)
            assert found.code is expected, f
        else:
            stalled = stalled_for(f)
            assert found.code is (Code.STUCK if stalled is not None and stalled >= STUCK_AFTER
                                  else Code.BEHIND), f
        assert found.final == (found.code is not Code.BEHIND)
        if found.code is Code.NO_WORKER:
            assert f"no worker is consuming {TOPIC}" in found.message
        if found.code is Code.STUCK:
            assert found.message.startswith("commits stuck since ")
        assert int(found.code) in (0, 3, 4, 5)


def test_report_names_every_fact() -> None:
    text = report(replace(facts(10, 4, commit_age=12.34), pipeline="v7"))
    assert "articles log: 10 records; worker committed: 4; lag: 6" in text
    assert "group p.storyline-worker: state Stable, members 1" in text
    assert "last commit: 12.3 s ago (pipeline v7)" in text
    assert "oldest waiting record: written 5.0 s ago" in text
    assert "last commit: never" in report(facts(commit_age=math.inf))
    assert "no commit metadata" in report(facts(commit_age=None))
    assert "group p.storyline-worker: unknown" in report(facts(members=None, state=None))


def test_the_exit_codes_are_documented_in_the_help() -> None:
    import argparse

    from storyline.commands import status

    parser = argparse.ArgumentParser()
    status.add_arguments(parser)
    text = parser.format_help()
    for code in Code:
        assert f"\n  {int(code)}  " in text, code
    for option in ("--wait", "--timeout", "--stuck-after", "--grace"):
        assert option in text


def test_status_looks_at_the_worker_s_own_group() -> None:
    from storyline.commands.status import worker_group
    from storyline.settings import Settings
    from storyline.stream.worker import app_id

    for prefix in ("", "t-1a2b3c4d."):
        settings = Settings(topic_prefix=prefix)
        assert worker_group(settings) == app_id(settings)


# --- the fold stage: no member, alive by its commits -----------------------------------------


def test_a_live_fold_stage_without_members_is_consuming_not_no_worker() -> None:
    fold = replace(facts(members=0, state="Empty", memberless_for=600.0), stage="fold")
    found = verdict(fold, stuck_after=STUCK_AFTER, grace=5.0)
    assert found.code is Code.BEHIND and not found.final
    assert "the fold stage consuming" in found.message
    assert "the fold stage commits without membership, alive" in report(fold)
    # caught up: nobody is said to be missing
    done = verdict(replace(fold, committed={0: 10}), stuck_after=STUCK_AFTER)
    assert done.code is Code.CAUGHT_UP and "no worker" not in done.message


def test_a_fold_stage_whose_offsets_do_not_move_is_stuck() -> None:
    # its commits keep coming (heartbeats); the age here is of the last move
    fold = replace(facts(members=0, state="Empty", commit_age=300.0, pending_age=90.0),
                   stage="fold")
    found = verdict(fold, stuck_after=STUCK_AFTER)
    assert found.code is Code.STUCK and "the fold stage alive" in found.message
    # not moved since it started (rebuilding): one look cannot tell
    assert judge(replace(fold, last_commit_age=None)) is Code.BEHIND
    assert "since the fold stage started" in report(replace(fold, last_commit_age=None))


def test_commit_metadata_of_a_stage_round_trips_and_the_workers_is_unchanged() -> None:
    from storyline.stream.offsets import CommitMetadata

    worker = CommitMetadata(1700000000.5, "p-1")
    assert worker.encode() == '{"at": 1700000000.5, "pipeline": "p-1"}'
    assert CommitMetadata.decode(worker.encode()) == worker
    for moved in (None, 1700000000.25):
        fold = CommitMetadata(1700000001.0, "p-1", "fold", moved)
        assert CommitMetadata.decode(fold.encode()) == fold
    assert CommitMetadata.decode('{"at": 1, "pipeline": "p", "stage": "fold", "moved": "x"}'
                                 ) is None
    assert CommitMetadata.decode("[]") is None


# --- page processes: the assign leg and a leg per assignments partition ---------------------

ASSIGNMENTS = "p.storyline.assignments"


def assign_leg(end: int = 30, committed: int | None = 30, **kw: Any) -> Facts:
    """The articles log against the assign process's group (alive by its commits)."""
    return replace(Facts(topic=TOPIC, ends={0: end},
                         committed={} if committed is None else {0: committed},
                         group="p.storyline-worker-assign", committer="assign",
                         state="Empty", members=0, stage="assign", last_commit_age=2.0,
                         pending_age=2.0), **kw)


def page_leg(partition: int, end: int, committed: int | None, **kw: Any) -> Facts:
    """Partition ``partition`` of the assignments topic against page process P's group."""
    return replace(Facts(topic=ASSIGNMENTS, ends={partition: end},
                         committed={} if committed is None else {partition: committed},
                         group=f"p.storyline-worker-page-{partition}", partition=partition,
                         log=f"assignments partition {partition}",
                         committer=f"page-{partition}", state="Empty", members=0,
                         stage=f"page-{partition}", last_commit_age=2.0, pending_age=2.0),
                   **kw)


def judge_all(*legs: Facts, grace: float | None = None) -> Code:
    return combined(legs, stuck_after=STUCK_AFTER, grace=grace).code


def test_one_leg_is_judged_as_before_word_for_word() -> None:
    for f in (facts(10, 10), facts(members=0, state="Empty"), facts(commit_age=300.0,
                                                                    pending_age=90.0)):
        assert combined([f], stuck_after=STUCK_AFTER) == verdict(f, stuck_after=STUCK_AFTER)
    with pytest.raises(ValueError):
        combined([], stuck_after=STUCK_AFTER)


def test_caught_up_means_every_leg_is_every_revision_published() -> None:
    found = combined([assign_leg(30, 30), page_leg(0, 16, 16), page_leg(1, 14, 14)],
                     stuck_after=STUCK_AFTER)
    assert found.code is Code.CAUGHT_UP and int(found.code) == 0 and found.final
    assert "every revision is published" in found.message
    assert "page-1: all 14 records of p.storyline.assignments partition 1" in found.message
    # an empty assignments partition (no story of it yet) is nothing to do
    assert judge_all(assign_leg(3, 3), page_leg(0, 3, 3), page_leg(1, 0, None)
                     ) is Code.CAUGHT_UP


def test_the_articles_all_assigned_is_not_caught_up_while_a_page_leg_lags() -> None:
    found = combined([assign_leg(30, 30), page_leg(0, 16, 16), page_leg(1, 40, 38)],
                     stuck_after=STUCK_AFTER)
    assert found.code is Code.BEHIND and not found.final
    # the message names the leg that is behind, and only it
    assert found.message.startswith("page-1 (group p.storyline-worker-page-1): behind: "
                                    "2 records waiting; the page-1 stage consuming")
    assert "page-0" not in found.message and "assign" not in found.message


def test_a_page_leg_without_a_live_stage_is_no_worker_naming_it() -> None:
    gone = page_leg(1, 40, 38, stage=None, last_commit_age=120.0, pending_age=120.0)
    found = combined([assign_leg(30, 28), page_leg(0, 16, 16), gone], stuck_after=STUCK_AFTER)
    assert found.code is Code.NO_WORKER and found.final
    # the deciding leg first, the group named; the assign leg, merely behind, after it
    first, second = found.message.split("; assign ", 1)
    assert first.startswith("page-1 (group p.storyline-worker-page-1): no worker is "
                            "consuming p.storyline.assignments partition 1: 2 records waiting")
    assert second.startswith("(group p.storyline-worker-assign): behind: 2 records waiting")
    # watched: its own grace first, however the other legs fare
    assert judge_all(assign_leg(), page_leg(0, 16, 16), replace(gone, memberless_for=3.0),
                     grace=5.0) is Code.BEHIND
    assert judge_all(assign_leg(), page_leg(0, 16, 16), replace(gone, memberless_for=5.0),
                     grace=5.0) is Code.NO_WORKER


def test_no_assign_process_is_no_worker_naming_it() -> None:
    found = combined([assign_leg(35, 30, stage=None, last_commit_age=100.0),
                      page_leg(0, 16, 16, stage=None), page_leg(1, 14, 14, stage=None)],
                     stuck_after=STUCK_AFTER)
    assert found.code is Code.NO_WORKER
    assert found.message.startswith("assign (group p.storyline-worker-assign): no worker is "
                                    f"consuming {TOPIC}: 5 records waiting")
    assert "page-" not in found.message  # the page legs are caught up: nothing to say


def test_a_stuck_page_leg_is_stuck_naming_it() -> None:
    stuck = page_leg(0, 16, 10, last_commit_age=300.0, pending_age=90.0)
    found = combined([assign_leg(), stuck, page_leg(1, 14, 14)], stuck_after=STUCK_AFTER)
    assert found.code is Code.STUCK and found.final
    assert found.message.startswith("page-0 (group p.storyline-worker-page-0): commits stuck "
                                    "since 90 s: 6 records waiting while the page-0 stage alive")


def test_the_most_severe_leg_decides_error_then_no_worker_then_stuck_then_behind() -> None:
    behind = page_leg(0, 16, 10)
    stuck = page_leg(1, 16, 10, last_commit_age=300.0, pending_age=90.0)
    gone = assign_leg(35, 30, stage=None, last_commit_age=100.0)
    missing = Facts(topic=ASSIGNMENTS, ends={}, committed={}, committer="page",
                    log="assignments", group="p.storyline-worker-page-<P>")
    assert judge_all(assign_leg(), behind) is Code.BEHIND
    assert judge_all(assign_leg(), behind, stuck) is Code.STUCK
    assert judge_all(gone, behind, stuck) is Code.NO_WORKER
    found = combined([gone, missing], stuck_after=STUCK_AFTER)
    assert found.code is Code.ERROR
    assert found.message.startswith(f"page (group p.storyline-worker-page-<P>): {ASSIGNMENTS} "
                                    "does not exist")
    # the stuck leg, less severe than the one without a worker, is still named
    assert "page-1 (group p.storyline-worker-page-1): commits stuck" in combined(
        [gone, behind, stuck], stuck_after=STUCK_AFTER).message


LEG_CODES = {
    Code.CAUGHT_UP: lambda p: page_leg(p, 10, 10),
    Code.BEHIND: lambda p: page_leg(p, 10, 4),
    Code.NO_WORKER: lambda p: page_leg(p, 10, 4, stage=None),
    Code.STUCK: lambda p: page_leg(p, 10, 4, last_commit_age=300.0, pending_age=300.0),
    Code.ERROR: lambda p: Facts(topic=ASSIGNMENTS, ends={}, committed={},
                                committer=f"page-{p}", group=f"g-{p}"),
}
ORDER = [Code.CAUGHT_UP, Code.BEHIND, Code.STUCK, Code.NO_WORKER, Code.ERROR]


@pytest.mark.parametrize("codes", list(itertools.product(LEG_CODES, repeat=3)))
def test_the_combined_code_is_the_most_severe_legs(codes: tuple[Code, ...]) -> None:
    legs = [LEG_CODES[code](p) for p, code in enumerate(codes)]
    assert [verdict(f, stuck_after=STUCK_AFTER).code for f in legs] == list(codes)
    found = combined(legs, stuck_after=STUCK_AFTER)
    assert found.code is max(codes, key=ORDER.index)
    assert found.final == (found.code is not Code.BEHIND)
    # every leg not caught up is named, the deciding ones first
    named = [f.leg for f, code in zip(legs, codes, strict=True) if code is not Code.CAUGHT_UP]
    deciding = [f.leg for f, code in zip(legs, codes, strict=True) if code is found.code]
    if found.code is Code.CAUGHT_UP:
        assert all(f"page-{p}: " in found.message for p in range(3))
    else:
        assert all(leg in found.message for leg in named)
        assert found.message.startswith(deciding[0])


def test_report_shows_every_leg() -> None:
    legs = [assign_leg(30, 30), page_leg(0, 16, 16), page_leg(1, 40, 38, pending_age=4.0)]
    text = report_all(legs)
    assert "articles log: 30 records; assign committed: 30; lag: 0" in text
    assert "assignments partition 0: 16 records; page-0 committed: 16; lag: 0" in text
    assert "assignments partition 1: 40 records; page-1 committed: 38; lag: 2" in text
    assert "group p.storyline-worker-page-1: state Empty, members 0; the page-1 stage " \
           "commits without membership, alive" in text
    assert "oldest waiting record: written 4.0 s ago" in text
    assert len(text.split("\n\n")) == 3  # a block per leg
    assert report_all(legs[:1]) == report(legs[0])
    # a page process that never had anything to publish, gone: its heartbeats were ours
    idle = page_leg(1, 0, 0, stage=None, committed_by="page-1", last_commit_age=None)
    assert "last commit: none moved the offsets while the page-1 stage ran (it is not " \
           "committing now)" in report(idle)
    assert "no commit metadata" in report(replace(idle, committed_by=None))
    missing = Facts(topic=ASSIGNMENTS, ends={}, committed={}, log="assignments")
    assert report(missing) == f"assignments: {ASSIGNMENTS} does not exist"


def test_watching_keeps_timers_per_leg() -> None:
    watch = Watch()
    gone = page_leg(1, 40, 38, stage=None)
    moving = page_leg(0, 40, 10)
    for now in (100.0, 103.0):
        seen = [watch.see(f, now) for f in (moving, gone)]
    moving_seen, gone_seen = seen
    assert gone_seen.memberless_for == 3.0 and moving_seen.memberless_for == 0.0
    assert moving_seen.unchanged_for == 3.0  # not moved while a stage consumes it
    assert gone_seen.unchanged_for == 0.0  # nobody to be stuck
    # the moving leg moves: its timer starts again, the other's does not
    seen = [watch.see(f, 104.0) for f in (replace(moving, committed={0: 11}), gone)]
    assert seen[0].unchanged_for == 0.0 and seen[1].memberless_for == 4.0
    # a stage back in the gone leg: its memberless timer ends
    back = watch.see(replace(gone, stage="page-1"), 105.0)
    assert back.memberless_for == 0.0
    assert watch.see(gone, 106.0).memberless_for == 0.0  # and starts afresh when it leaves


def test_watching_one_leg_is_what_wait_did_before() -> None:
    watch = Watch()
    member = facts(10, 4, members=1, commit_age=None, pending_age=None)  # watching decides
    assert watch.see(member, 10.0).unchanged_for == 0.0
    assert watch.see(member, 70.0).unchanged_for == 60.0
    found = verdict(watch.see(member, 71.0), stuck_after=STUCK_AFTER)
    assert found.code is Code.STUCK
    empty = facts(10, 4, members=0, state="Empty")
    assert watch.see(empty, 72.0).memberless_for == 0.0
    assert watch.see(empty, 80.0).memberless_for == 8.0


def test_status_looks_at_the_assign_and_page_processes_own_groups() -> None:
    from storyline.commands.status import assign_group
    from storyline.commands.status import page_group as status_page_group
    from storyline.settings import Settings
    from storyline.stream.fold_stage import fold_group
    from storyline.stream.page_stage import page_group

    for prefix in ("", "t-1a2b3c4d."):
        settings = Settings(topic_prefix=prefix)
        assert assign_group(settings) == fold_group(settings, pages=False)
        for partition in range(4):
            assert status_page_group(settings, partition) == page_group(settings, partition)


def test_with_page_processes_status_watches_the_assign_group_and_every_partition() -> None:
    from storyline.commands.status import articles_leg, worker_group
    from storyline.commands.status import page_leg as status_page_leg
    from storyline.settings import Settings

    single = articles_leg(Settings(topic_prefix="p."))
    assert (single.group, single.committer) == (worker_group(Settings(topic_prefix="p.")),
                                                "worker")
    settings = Settings(topic_prefix="p.", page_processes=2)
    leg = articles_leg(settings)
    assert (leg.topic, leg.group, leg.committer, leg.partition) == (
        settings.articles, "p.storyline-worker-assign", "assign", None)
    page = status_page_leg(settings, 1)
    assert (page.topic, page.group, page.partition, page.log) == (
        settings.assignments, "p.storyline-worker-page-1", 1, "assignments partition 1")


def test_status_imports_neither_the_worker_nor_the_stages() -> None:
    """Every look stays fast: the command module pulls in no faust, numpy or core."""
    import subprocess
    import sys

    code = ("import sys, storyline.commands.status as s; "
            "print(sorted(m for m in sys.modules if m.startswith(('faust', 'numpy', "
            "'storyline.stream.worker', 'storyline.stream.fold_stage', "
            "'storyline.stream.page_stage', 'storyline.core'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]", out


def test_no_worker_suggests_the_page_processes_flag() -> None:
    """A worker run with --page-processes M commits in its assign group: status without the
    flag finds the worker's group empty and must say where to look instead."""
    found = verdict(facts(members=0, state="Empty", commit_age=9999.0),
                    stuck_after=STUCK_AFTER)
    assert found.code is Code.NO_WORKER
    assert found.message == (
        f"no worker is consuming {TOPIC}: 6 records waiting (group Empty, 0 members); a "
        "worker started with --page-processes M is watched with `storyline status "
        "--page-processes M` (or STORYLINE_PAGE_PROCESSES=M)")
    assign = replace(facts(members=0, state="Empty", commit_age=9999.0), committer="assign")
    assert "--page-processes" not in verdict(assign, stuck_after=STUCK_AFTER).message


def test_status_takes_the_page_processes_of_the_worker(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    from storyline import cli
    from storyline.commands import status

    seen: list[status.Settings] = []

    async def run(args: object, settings: status.Settings) -> int:
        seen.append(settings)
        return 0
    monkeypatch.setattr(status, "_run", run)
    assert cli.main(["status", "--page-processes", "4"]) == 0
    assert seen[0].page_processes == 4
    leg = status.articles_leg(seen[0])
    assert (leg.committer, leg.group) == ("assign", status.assign_group(seen[0]))
    with pytest.raises(SystemExit):
        cli.main(["status", "--page-processes", "-1"])


def test_wait_bounds_each_look_by_the_time_left(capsys: pytest.CaptureFixture[str]) -> None:
    """A broker gone away made one look last as long as its clients retried: --wait overran
    --timeout. Each look now gets the time that is left."""
    import asyncio
    import time

    from storyline.commands import status

    class Hanging:
        async def look(self) -> list[Facts]:
            await asyncio.sleep(30)
            return []

    began = time.monotonic()
    code = asyncio.run(status._wait(Hanging(), timeout=0.5,  # type: ignore[arg-type]
                                    stuck_after=STUCK_AFTER, grace=5.0))
    assert time.monotonic() - began < 2.0
    assert code == int(Code.ERROR)
    assert capsys.readouterr() == ("", "timed out after 0.5 s: no look at the broker "
                                       "finished (is it reachable?)\n")


def test_status_quiets_broker_outages(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the worker and projector do: the Kafka clients' reconnection noise (~1,200 lines
    for a broker gone during --wait) becomes the outage tracker's lines."""
    from storyline import cli, outages
    from storyline.commands import status

    installed: list[str] = []
    monkeypatch.setattr(outages, "install",
                        lambda bootstrap, **_: installed.append(bootstrap))

    async def run(args: object, settings: status.Settings) -> int:
        return 0
    monkeypatch.setattr(status, "_run", run)
    assert cli.main(["status"]) == 0
    assert installed == [status.get_settings().bootstrap_servers]


def test_a_stage_that_stopped_committing_is_named_not_page_processes() -> None:
    """The fold stage SIGSTOPped (/tmp/faults/zombie_fold.sh): no member, its heartbeat
    commits stopped. The verdict used to send the operator to `--page-processes M` only; it
    names the stage that made the last commit and says it stopped or hangs."""
    from dataclasses import replace

    stopped = replace(facts(end=60, committed=40, state="Empty", members=0, commit_age=78.6),
                      committed_by="fold")
    found = verdict(stopped, stuck_after=STUCK_AFTER)
    assert found.code == Code.NO_WORKER
    assert "the fold stage made the last commit 79 s ago" in found.message, found.message
    assert "hangs" in found.message
    # the stage first: the page processes' hint used to be all it said
    assert found.message.index("hangs") < found.message.index("--page-processes")
