"""Partitions added to a topic that already holds records, as an operator's
`kafka-topics --alter --partitions N` would."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions


async def grow_partitions(bootstrap_servers: str, topic: str, total: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=total)})
    finally:
        await admin.close()
