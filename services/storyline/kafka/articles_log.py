"""The articles log is partition 0 of the articles topic: one total order, which every stage
reads and every revision is a function of. A topic made with more partitions (a cluster's
default count, an operator's change) is tolerated while the others stay empty: the ingest
paths write to partition 0 whatever the count. A record on another partition (a producer
that writes to the topic directly and lets the key's hash choose) is not part of the log:
nothing folds it, so the stages refuse to start over one and ``storyline status`` reports
it, rather than leave the article silently unfolded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storyline.errors import OperatorError

ARTICLES_PARTITION = 0


class ArticlesOffTheLog(OperatorError, RuntimeError):
    """Records on partitions of the articles topic other than the log's."""


def off_the_log_message(topic: str, held: Mapping[int, int]) -> str:
    """What to tell the operator about ``held`` (partition -> records; 0: some) of ``topic``."""
    count = sum(held.values())
    where = ", ".join(str(p) for p in sorted(held))
    records = (f"{count} record{'' if count == 1 else 's'}" if count else "records")
    return (f"{records} on partition{'' if len(held) == 1 else 's'} {where} of {topic}: the "
            f"articles log is partition {ARTICLES_PARTITION} (one total order) and nothing "
            f"folds the others; have the producer write to partition {ARTICLES_PARTITION} "
            f"(storyline ingest and the HTTP API do), write those articles again, then "
            f"delete the topic's other records")


async def records_off_the_log(consumer: Any, topic: str) -> dict[int, int]:
    """partition -> records it holds, for each partition of ``topic`` other than the log's
    that holds any (``consumer``: a started ``AIOKafkaConsumer`` whose metadata knows the
    topic)."""
    from aiokafka import TopicPartition  # here: status imports this module, and stays light

    others = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
              if p != ARTICLES_PARTITION]
    if not others:
        return {}
    begins = await consumer.beginning_offsets(others)
    ends = await consumer.end_offsets(others)
    return {tp.partition: ends[tp] - begins[tp] for tp in others if ends[tp] > begins[tp]}


def record_losing_configs(configs: Mapping[str, str]) -> list[str]:
    """What in the articles topic's live ``configs`` deletes records from the log: a time or
    size retention, or compaction (which keeps only each uri's newest version, so a
    correction's earlier versions go and a replay folds another log). Empty: it keeps
    every record, as deploy/topics.toml declares."""
    problems = []
    policy = {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}
    if "compact" in policy:
        problems.append("cleanup.policy includes compact: all but each key's newest record "
                        "are deleted")
    if "delete" in policy:
        for key in ("retention.ms", "retention.bytes"):
            value = configs.get(key, "-1")
            if value.strip() != "-1":
                problems.append(f"{key}={value}: older records are deleted")
    return problems


async def warn_if_the_log_loses_records(bootstrap: str, topic: str) -> list[str]:
    """Log an error when the articles topic is configured to delete records (the log is the
    source of record: a replay, a rebuild and a late stage would no longer find them);
    returns what was found. A cluster that cannot be asked says so at warning only."""
    import structlog

    from storyline.kafka.admin import admin_client, describe_topics

    log = structlog.get_logger(__name__)
    try:
        async with admin_client(bootstrap, timeout_ms=10_000) as admin:
            found = (await describe_topics(admin, [topic])).get(topic)
    except Exception as exc:  # noqa: BLE001 - a check, not a condition of running
        log.warning("articles_topic_config_unknown", topic=topic,
                    error=f"{type(exc).__name__}: {exc}")
        return []
    problems = record_losing_configs(found.configs) if found is not None else []
    if problems:
        log.error("articles_topic_loses_records", topic=topic, problems=problems,
                  fix="set retention.ms=-1, retention.bytes=-1 and cleanup.policy=delete on "
                      "the topic (deploy/topics.toml; `storyline topics apply --dry-run` "
                      "lists what differs)")
    return problems
