"""The local broker and `storyline topics apply` against a real Kafka broker."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from storyline.kafka.admin import admin_client, describe_topics
from storyline.kafka.broker import BrokerConfig, BrokerError, LocalBroker, probe
from storyline.kafka.topics import ActualTopic, default_topics_file, load_topics

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]


def storyline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STORYLINE, *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})}, check=False)


def broker_flags(config: BrokerConfig) -> list[str]:
    return ["--port", str(config.port), "--controller-port", str(config.controller_port),
            "--data-dir", str(config.data_dir)]


async def round_trip(bootstrap: str, topic: str, values: list[bytes]) -> list[bytes]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got: list[bytes] = []
        while len(got) < len(values):
            batch = await consumer.getmany(tp, timeout_ms=10_000)
            records = batch.get(tp, [])
            assert records, f"no records after {got!r}"
            got.extend(record.value for record in records if record.value is not None)
        return got
    finally:
        await consumer.stop()


async def live_topics(bootstrap: str, names: list[str]) -> dict[str, ActualTopic]:
    async with admin_client(bootstrap) as admin:
        return await describe_topics(admin, names)


# ---- the broker ------------------------------------------------------------------------


def test_produce_and_consume_round_trip(kafka_bootstrap: str, topic_prefix: str) -> None:
    values = [f"record {i}".encode() for i in range(5)]
    assert asyncio.run(round_trip(kafka_bootstrap, f"{topic_prefix}rt", values)) == values


def test_broker_lifecycle_through_the_cli(
    make_broker_config: Callable[[Path], BrokerConfig], tmp_path: Path
) -> None:
    config = make_broker_config(tmp_path / "broker")
    flags = broker_flags(config)
    try:
        assert storyline("kafka", "status", *flags).returncode == 3

        up = storyline("kafka", "up", *flags, "--heap", "512m")
        assert up.returncode == 0, up.stderr
        assert "started pid" in up.stdout and config.bootstrap in up.stdout

        again = storyline("kafka", "up", *flags)
        assert again.returncode == 0 and "already running" in again.stdout

        status = storyline("kafka", "status", *flags)
        assert status.returncode == 0 and "running" in status.stdout
        pid = LocalBroker(config).pid()
        assert pid is not None and status.stdout.count(str(pid)) == 1
        assert asyncio.run(probe(config.bootstrap))

        down = storyline("kafka", "down", *flags)
        assert down.returncode == 0 and "stopped in" in down.stdout
        assert storyline("kafka", "status", *flags).returncode == 3
        assert LocalBroker(config).pid() is None
        assert not asyncio.run(probe(config.bootstrap, timeout=2.0))
        # Data survives a plain `down`; `--wipe` removes it. Both are fine when stopped.
        assert (config.log_dirs / "meta.properties").is_file()
        not_running = storyline("kafka", "down", *flags, "--wipe")
        assert not_running.returncode == 0 and "was not running" in not_running.stdout
        assert not config.data_dir.exists()
    finally:
        LocalBroker(config).stop(wipe=True)


def test_restart_keeps_the_records(
    make_broker_config: Callable[[Path], BrokerConfig], tmp_path: Path
) -> None:
    broker = LocalBroker(make_broker_config(tmp_path / "broker"))
    try:
        first = broker.start()
        assert not first.already_running and first.ready_seconds > 0
        values = [b"kept", b"across", b"restarts"]
        assert asyncio.run(round_trip(broker.bootstrap, "durable", values)) == values
        assert broker.start().already_running
        stopped_in = broker.stop()
        assert stopped_in is not None and stopped_in < broker.config.stop_timeout
        assert broker.status().running is False
        broker.start()
        assert asyncio.run(round_trip(broker.bootstrap, "durable", [b"more"])) == [*values, b"more"]
    finally:
        broker.stop(wipe=True)


def test_port_taken_by_another_process_is_a_clear_error(
    make_broker_config: Callable[[Path], BrokerConfig], tmp_path: Path
) -> None:
    config = make_broker_config(tmp_path / "broker")
    with socket.socket() as squatter:
        squatter.bind((config.host, config.port))
        squatter.listen()
        with pytest.raises(BrokerError, match="already in use"):
            LocalBroker(config).start()
        result = storyline("kafka", "up", *broker_flags(config))
    assert result.returncode == 1
    assert f"{config.host}:{config.port} is already in use" in result.stderr
    assert not config.pid_file.exists()


# ---- topics apply ----------------------------------------------------------------------


def test_apply_creates_declared_topics_then_finds_no_difference(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    specs = load_topics(default_topics_file(), topic_prefix)
    flags = ["--bootstrap-servers", kafka_bootstrap, "--prefix", topic_prefix]

    dry = storyline("topics", "apply", "--dry-run", *flags)
    assert dry.returncode == 3, dry.stderr  # missing topics: not "all present"
    assert dry.stdout.count("would create") == len(specs)
    assert asyncio.run(live_topics(kafka_bootstrap, [s.name for s in specs])) == {}

    first = storyline("topics", "apply", *flags)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created ") == len(specs)

    actual = asyncio.run(live_topics(kafka_bootstrap, [s.name for s in specs]))
    assert sorted(actual) == sorted(s.name for s in specs)
    for spec in specs:
        live = actual[spec.name]
        assert live.partitions == spec.partitions, spec.name
        assert live.replication_factor == 1
        for key, value in spec.configs.items():
            assert live.configs[key] == value, (spec.name, key)

    second = storyline("topics", "apply", *flags)
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout and "DIFFERS" not in second.stdout
    assert second.stdout.count("ok ") == len(specs)
    assert storyline("topics", "apply", "--dry-run", *flags).returncode == 0


def test_apply_reports_a_different_topic_and_leaves_it_alone(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    updates = f"{topic_prefix}storyline.story-updates"

    async def create_wrong_topic() -> None:
        async with admin_client(kafka_bootstrap) as admin:
            await admin.create_topics([NewTopic(updates, 1, 1, topic_configs={
                "retention.ms": "86400000"})])

    asyncio.run(create_wrong_topic())
    flags = ["--bootstrap-servers", kafka_bootstrap, "--prefix", topic_prefix]
    result = storyline("topics", "apply", *flags)
    assert result.returncode == 2
    differs = [line for line in result.stdout.splitlines() if line.startswith("DIFFERS")]
    assert sorted(differs) == sorted([
        f"DIFFERS {updates}: partitions declared 3, actual 1",
        f"DIFFERS {updates}: config retention.ms declared -1, actual 86400000",
        f"DIFFERS {updates}: config max.message.bytes declared 16777216, actual 2097152",
    ])
    # The other declared topics were still created.
    assert result.stdout.count("created ") == len(load_topics(default_topics_file())) - 1

    live = asyncio.run(live_topics(kafka_bootstrap, [updates]))[updates]
    assert live.partitions == 1 and live.configs["retention.ms"] == "86400000"

    accepted = storyline("topics", "apply", "--allow-differences", *flags)
    assert accepted.returncode == 0 and accepted.stdout.count("DIFFERS") == 3
