"""A partition added to the assignments topic of a deployment that has written it (what
`kafka-topics.sh --alter --partitions` does; `storyline worker --page-processes 3` then
accepts it, one page process per partition), on a real broker: the assign stage places a
story by the CRC-32 of its id modulo the partition count, so a story of two partitions goes
on in another, whose page process has never folded it. Every stage whose commits were made
with the old count now refuses in one line (PartitionsChanged, exit 2).

Before: nothing refused. In the session's run (/tmp/upgrade/e3: 120 timeline17 articles
with two page processes, a third partition, 80 more articles) the main story moved from
page partition 0 to 1, whose process published it again from revision 1 with other bytes:
`status` said every revision was published (exit 0), `replay --verify` found 72 revisions
mismatched ("published twice with different bytes") and 72 missing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from partitions import folded_then_grown, run

from storyline.settings import Settings

pytestmark = pytest.mark.integration


async def folded_then_partition_added(env: dict[str, str], settings: Settings, pages: int
                                      ) -> Settings:
    return await folded_then_grown(env, settings, pages, lambda s: s.assignments, 3)


def refused(result: subprocess.CompletedProcess[str], settings: Settings) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert (f"{settings.assignments} has 3 partitions, 2 when group" in result.stderr), output
    assert '"error_type": "PartitionsChanged"' in output, output


def said(status: subprocess.CompletedProcess[str], settings: Settings) -> None:
    """`storyline status` says what the stages will: exit 1, not "caught up" (the old code)."""
    assert status.returncode == 1, status
    assert f"{settings.assignments} has 3 partitions, 2 when group" in status.stderr, status


async def test_the_assign_and_page_stages_refuse_an_assignments_topic_grown_under_them(
    command_env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    settings = await folded_then_partition_added(command_env, settings_for(command_env),
                                                 pages=2)
    said(run(command_env, "status", "--page-processes", "2"), settings)
    # on the old code both ran (until these timeouts): the assign stage placing stories by
    # three partitions, the page processes folding what came to them
    refused(run(command_env, "worker", "--stage", "assign", timeout=60), settings)
    refused(run(command_env, "worker", "--stage", "page", "--partition", "0", timeout=60),
            settings)


async def test_the_fold_refuses_an_assignments_topic_grown_under_it(
    command_env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    settings = await folded_then_partition_added(command_env, settings_for(command_env),
                                                 pages=0)
    said(run(command_env, "status"), settings)
    refused(run(command_env, "worker", "--stage", "fold", timeout=60), settings)
