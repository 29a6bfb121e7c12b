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

ARTICLES_PARTITION = 0


class ArticlesOffTheLog(RuntimeError):
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
