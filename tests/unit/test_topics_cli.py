"""`storyline topics apply`'s exit status, the cluster faked: --dry-run exits 0 only when
every declared topic is present and as declared (docs/kafka.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from storyline import cli
from storyline.kafka import admin
from storyline.kafka.admin import ApplyReport
from storyline.kafka.topics import Difference, Plan, TopicSpec

SPEC = TopicSpec("storyline.articles", 1, None, {"retention.ms": "-1"})


def fake_cluster(monkeypatch: pytest.MonkeyPatch, found: Plan) -> None:
    async def apply_topics(bootstrap: str, specs: Sequence[TopicSpec], default: int, *,
                           dry_run: bool = False, not_ours: Iterable[str] = ()
                           ) -> ApplyReport:
        return ApplyReport(() if dry_run else found.create, found)
    monkeypatch.setattr(admin, "apply_topics", apply_topics)
    monkeypatch.setenv("STORYLINE_LOG_FORMAT", "console")


MISSING = Plan(create=(SPEC,), unchanged=(), differences=())
PRESENT = Plan(create=(), unchanged=(SPEC.name,), differences=())


@pytest.mark.parametrize(("found", "argv", "code"), [
    (MISSING, ["--dry-run"], 3), (MISSING, [], 0),
    (PRESENT, ["--dry-run"], 0), (PRESENT, [], 0)])
def test_dry_run_exits_3_when_a_topic_is_missing(
        found: Plan, argv: list[str], code: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_cluster(monkeypatch, found)
    assert cli.main(["topics", "apply", *argv]) == code
    out, err = capsys.readouterr()
    if code == 3:
        assert out.startswith("would create storyline.articles partitions=1")
        assert err == "1 topic(s) missing: `storyline topics apply` creates them\n"


def test_a_difference_exits_2_before_a_missing_topic(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    differs = Difference("storyline.facts", "partitions", "16", "1")
    fake_cluster(monkeypatch, Plan(create=(SPEC,), unchanged=(), differences=(differs,)))
    assert cli.main(["topics", "apply", "--dry-run"]) == 2
    assert cli.main(["topics", "apply", "--dry-run", "--allow-differences"]) == 3


def test_the_exit_statuses_are_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["topics", "apply", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "3 with --dry-run, a topic is missing (it would be created)" in help_text
