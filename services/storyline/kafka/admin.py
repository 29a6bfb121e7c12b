"""aiokafka admin calls behind ``storyline topics apply``: read the live topics, create the
missing ones. The decisions (what to create, what differs) are in ``storyline.kafka.topics``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from storyline.errors import OperatorError
from storyline.kafka.clients import started
from storyline.kafka.security import kafka_options
from storyline.kafka.topics import ActualTopic, Plan, TopicSpec, plan

log = structlog.get_logger(__name__)

_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


class AdminError(OperatorError, RuntimeError):
    """The cluster refused a request."""


class NotOurs(OperatorError, RuntimeError):
    """A declared topic that another deployment makes (the articles topic named by
    STORYLINE_SOURCE_PREFIX) is missing: it is reported, never created."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(", ".join(names))
        self.names = tuple(names)


@dataclass(frozen=True)
class ApplyReport:
    created: tuple[TopicSpec, ...]
    plan: Plan  # as found before creating


@asynccontextmanager
async def admin_client(
    bootstrap: str, timeout_ms: int = 30_000
) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms,
                                **kafka_options())
    await started(admin)
    try:
        yield admin
    finally:
        await admin.close()


async def cluster_topics(client: Any) -> frozenset[str]:
    """The topics of the cluster an aiokafka client (``AIOKafkaClient``) talks to, from every
    topic's metadata. Asked for by name, a missing topic is created where the broker
    auto-creates topics (``auto.create.topics.enable``, Kafka's default; aiokafka asks with
    auto-creation on), with the broker's defaults: look a topic up here first, so that a
    wrong prefix is reported instead of leaving new topics behind."""
    return frozenset((await client.fetch_all_metadata()).topics())


async def describe_topics(
    admin: AIOKafkaAdminClient, names: Sequence[str]
) -> dict[str, ActualTopic]:
    """The live partitions, replication factor and configs of those ``names`` that exist."""
    existing = set(await admin.list_topics())
    wanted = sorted(name for name in set(names) if name in existing)
    if not wanted:
        return {}
    layout: dict[str, tuple[int, int]] = {}
    for topic in await admin.describe_topics(wanted):
        _raise_for(topic["error_code"], f"describing topic {topic['topic']}")
        partitions = topic["partitions"]
        replication = min((len(p["replicas"]) for p in partitions), default=0)
        layout[topic["topic"]] = (len(partitions), replication)
    configs: dict[str, dict[str, str]] = {name: {} for name in wanted}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted]
    for response in await admin.describe_configs(resources):
        for error_code, error_message, _type, name, entries, *_ in response.resources:
            _raise_for(error_code, f"describing configs of {name}: {error_message}")
            configs[name] = {entry[0]: entry[1] for entry in entries if entry[1] is not None}
    return {
        name: ActualTopic(name, layout[name][0], layout[name][1], configs.get(name, {}))
        for name in wanted
        if name in layout
    }


async def create_topics(
    admin: AIOKafkaAdminClient, specs: Iterable[TopicSpec], default_replication: int
) -> list[TopicSpec]:
    """Create ``specs``; returns those created by this call (a concurrent creator may win)."""
    specs = list(specs)
    if not specs:
        return []
    new_topics = [
        NewTopic(spec.name, spec.partitions, spec.replication_factor or default_replication,
                 topic_configs=dict(spec.configs))
        for spec in specs
    ]
    response = await admin.create_topics(new_topics)
    failed: dict[str, int] = {}
    created: list[TopicSpec] = []
    by_name = {spec.name: spec for spec in specs}
    for name, error_code, *rest in response.topic_errors:
        if error_code == 0:
            created.append(by_name[name])
            log.info("kafka.topic_created", topic=name)
        elif error_code != _TOPIC_ALREADY_EXISTS:
            failed[name] = error_code
            log.error("kafka.topic_create_failed", topic=name, error_code=error_code,
                      message=rest[0] if rest else None)
    if failed:
        details = ", ".join(f"{name}: {for_code(code).__name__}"
                            for name, code in sorted(failed.items()))
        raise AdminError(f"could not create topics: {details}")
    return created


async def apply_topics(
    bootstrap: str, specs: Sequence[TopicSpec], default_replication: int, *, dry_run: bool = False,
    not_ours: Iterable[str] = (),
) -> ApplyReport:
    """Create the missing declared topics; never alters an existing one. A missing one of
    ``not_ours`` (another deployment's) is NotOurs, and then nothing is created."""
    async with admin_client(bootstrap) as admin:
        actual = await describe_topics(admin, [spec.name for spec in specs])
        found = plan(specs, actual, default_replication)
        others = set(not_ours)
        missing = [spec.name for spec in found.create if spec.name in others]
        if missing:
            raise NotOurs(missing)
        created = [] if dry_run else await create_topics(admin, found.create, default_replication)
    return ApplyReport(tuple(created), found)


def _raise_for(error_code: Any, what: str) -> None:
    if error_code:
        raise AdminError(f"{what}: {for_code(int(error_code)).__name__}")
