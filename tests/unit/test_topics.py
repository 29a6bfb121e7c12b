"""Topics as code: parsing deploy/topics.toml and diffing it against live topics (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyline.kafka.topics import (
    ActualTopic,
    Difference,
    TopicsFileError,
    TopicSpec,
    diff_topic,
    load_topics,
    parse_topics,
    plan,
)
from storyline.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
TOPICS_FILE = REPO_ROOT / "deploy" / "topics.toml"

MINIMAL = """
[[topic]]
name = "a"
partitions = 2
[topic.config]
"cleanup.policy" = "compact,delete"
"retention.ms" = -1
"unclean.leader.election.enable" = false
"""


def live(spec: TopicSpec, **changes: object) -> ActualTopic:
    """The live topic as the broker would describe it right after creating ``spec``."""
    configs = {"segment.bytes": "1073741824", **spec.configs}
    fields: dict[str, object] = {
        "name": spec.name,
        "partitions": spec.partitions,
        "replication_factor": spec.replication_factor or 1,
        "configs": configs,
    }
    fields.update(changes)
    return ActualTopic(**fields)  # type: ignore[arg-type]


# ---- the project's own declaration -------------------------------------------------


def test_declared_topics_match_the_design() -> None:
    specs = {spec.name: spec for spec in load_topics(TOPICS_FILE)}
    settings = Settings()
    assert set(specs) == {
        settings.articles_topic,
        settings.story_updates_topic,
        settings.dead_letters_topic,
        settings.summaries_topic,
        settings.story_pages_topic,
        settings.facts_topic,
        settings.assignments_topic,
    }
    articles = specs[settings.articles_topic]
    # One partition: the total order of the source of record.
    assert articles.partitions == 1
    assert articles.configs["retention.ms"] == "-1"
    assert articles.configs["retention.bytes"] == "-1"
    assert articles.configs["cleanup.policy"] == "delete"
    assert int(articles.configs["max.message.bytes"]) > settings.max_article_bytes

    # one partition per extract stripe; a facts record is several times its article
    facts = specs[settings.facts_topic]
    assert facts.partitions >= 1
    assert int(facts.configs["max.message.bytes"]) >= 8 * settings.max_article_bytes

    # one partition per page partition; kept like the facts it points into
    assignments = specs[settings.assignments_topic]
    assert assignments.partitions >= 1
    assert assignments.configs["retention.ms"] == "-1"

    updates = specs[settings.story_updates_topic]
    assert updates.partitions == 3
    assert updates.configs["retention.ms"] == "-1"

    # LLM summary records are part of the record replay reads: kept forever
    summaries = specs[settings.summaries_topic]
    assert summaries.configs["retention.ms"] == "-1"

    dead = specs[settings.dead_letters_topic]
    assert dead.partitions == 1
    assert int(dead.configs["retention.ms"]) == 30 * 24 * 3600 * 1000

    # whole pages: each story's latest one is what a new reader starts from
    pages = specs[settings.story_pages_topic]
    assert pages.configs["cleanup.policy"] == "compact"
    assert pages.partitions == updates.partitions  # keyed by story id like the updates
    assert all(spec.purpose for spec in specs.values())


def test_prefix_is_prepended_to_every_name() -> None:
    plain = load_topics(TOPICS_FILE)
    prefixed = load_topics(TOPICS_FILE, prefix="t-1234abcd.")
    assert [spec.name for spec in prefixed] == [f"t-1234abcd.{spec.name}" for spec in plain]
    assert [spec.configs for spec in prefixed] == [spec.configs for spec in plain]


# ---- parsing -----------------------------------------------------------------------


def test_config_values_become_kafka_strings() -> None:
    (spec,) = parse_topics(MINIMAL)
    assert spec == TopicSpec(
        name="a",
        partitions=2,
        replication_factor=None,
        configs={
            "cleanup.policy": "compact,delete",
            "retention.ms": "-1",
            "unclean.leader.election.enable": "false",
        },
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        ('[[topic]]\nname = "a"\n', "partitions"),
        ('[[topic]]\nname = "a"\npartitions = 0\n', "partitions"),
        ('[[topic]]\nname = "a"\npartitions = true\n', "partitions"),
        ('[[topic]]\npartitions = 1\n', "name"),
        ('[[topic]]\nname = "a b"\npartitions = 1\n', "legal"),
        ('[[topic]]\nname = "a"\npartitions = 1\nreplication_factor = 0\n', "replication"),
        ('[[topic]]\nname = "a"\npartitions = 1\npartition = 2\n', "unknown keys"),
        ('[[topic]]\nname = "a"\npartitions = 1\n[[topic]]\nname = "a"\npartitions = 1\n',
         "declared twice"),
        ('[[topic]]\nname = "a"\npartitions = 1\n[topic.config]\n"x" = 1.5\n', "config"),
        ('[topics]\nname = "a"\n', "unknown top-level"),
        ("[[topic]\n", "topics.toml"),
    ],
)
def test_malformed_files_are_rejected(text: str, message: str) -> None:
    with pytest.raises(TopicsFileError, match=message):
        parse_topics(text)


def test_prefix_can_make_a_name_illegal() -> None:
    with pytest.raises(TopicsFileError, match="legal"):
        parse_topics(MINIMAL, prefix="bad prefix/")


def test_missing_file_is_a_topics_file_error(tmp_path: Path) -> None:
    with pytest.raises(TopicsFileError, match="cannot read"):
        load_topics(tmp_path / "absent.toml")


# ---- diff and plan -----------------------------------------------------------------


def test_identical_topic_has_no_difference_and_extra_live_configs_are_ignored() -> None:
    (spec,) = parse_topics(MINIMAL)
    assert diff_topic(spec, live(spec), default_replication=1) == []


def test_list_config_order_does_not_matter() -> None:
    (spec,) = parse_topics(MINIMAL)
    actual = live(spec, configs={**spec.configs, "cleanup.policy": "delete, compact"})
    assert diff_topic(spec, actual, default_replication=1) == []


def test_each_kind_of_difference_is_reported() -> None:
    (spec,) = parse_topics(MINIMAL)
    configs = dict(spec.configs)
    configs["retention.ms"] = "604800000"
    del configs["unclean.leader.election.enable"]
    actual = live(spec, partitions=1, replication_factor=3, configs=configs)
    assert diff_topic(spec, actual, default_replication=1) == [
        Difference("a", "partitions", "2", "1"),
        Difference("a", "replication_factor", "1", "3"),
        Difference("a", "config retention.ms", "-1", "604800000"),
        Difference("a", "config unclean.leader.election.enable", "false", "(unset)"),
    ]


def test_declared_replication_factor_wins_over_the_default() -> None:
    spec = TopicSpec("a", 1, replication_factor=3)
    assert diff_topic(spec, live(spec, replication_factor=3), default_replication=1) == []
    implicit = TopicSpec("a", 1, replication_factor=None)
    assert diff_topic(implicit, live(implicit, replication_factor=3), default_replication=3) == []
    assert diff_topic(implicit, live(implicit, replication_factor=3), default_replication=1)


def test_plan_splits_missing_unchanged_and_different_topics() -> None:
    specs = parse_topics(
        '[[topic]]\nname = "new"\npartitions = 1\n'
        '[[topic]]\nname = "same"\npartitions = 1\n'
        '[[topic]]\nname = "other"\npartitions = 3\n',
        prefix="p.",
    )
    by_name = {spec.name: spec for spec in specs}
    actual = {
        "p.same": live(by_name["p.same"]),
        "p.other": live(by_name["p.other"], partitions=1),
        "p.undeclared": ActualTopic("p.undeclared", 5, 1),
    }
    result = plan(specs, actual, default_replication=1)
    assert [spec.name for spec in result.create] == ["p.new"]
    assert result.unchanged == ("p.same",)
    assert result.differences == (Difference("p.other", "partitions", "3", "1"),)
    assert "declared 3, actual 1" in result.differences[0].describe()
