"""What in the articles topic's configs deletes records from the log (pure)."""

from __future__ import annotations

from storyline.kafka.articles_log import off_the_log_message, record_losing_configs


def test_the_declared_configs_keep_every_record() -> None:
    declared = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
    assert record_losing_configs(declared) == []


def test_a_week_of_retention_and_compaction_are_named() -> None:
    assert record_losing_configs({"cleanup.policy": "delete", "retention.ms": "604800000",
                                  "retention.bytes": "-1"}) == [
        "retention.ms=604800000: older records are deleted"]
    # a broker's defaults, when the topic sets nothing itself
    assert record_losing_configs({}) == []
    both = record_losing_configs({"cleanup.policy": "compact,delete", "retention.ms": "-1",
                                  "retention.bytes": "1073741824"})
    assert both == ["cleanup.policy includes compact: all but each key's newest record are "
                    "deleted", "retention.bytes=1073741824: older records are deleted"]
    # compaction alone: the retention settings do not apply
    assert record_losing_configs({"cleanup.policy": "compact", "retention.ms": "1000"}) == [
        "cleanup.policy includes compact: all but each key's newest record are deleted"]


def test_records_off_the_log_are_counted_in_words() -> None:
    assert off_the_log_message("t", {2: 1}).startswith("1 record on partition 2 of t: ")
    assert off_the_log_message("t", {1: 2, 2: 3}).startswith("5 records on partitions 1, 2 of")
    assert off_the_log_message("t", {1: 0}).startswith("records on partition 1 of t: ")
