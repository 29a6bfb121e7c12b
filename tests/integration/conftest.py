"""Fixtures for tests against a real Kafka broker.

``kafka_bootstrap`` uses STORYLINE_TEST_BOOTSTRAP when set (an already running broker or
cluster); otherwise it starts a private single-node broker (``LocalBroker``) on free ports
with its data under a temp folder, and stops and wipes it when the session ends. Tests
isolate themselves on a shared broker through ``topic_prefix``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from storyline.kafka.broker import BrokerConfig, LocalBroker
from storyline.settings import Settings


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("STORYLINE_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    broker = LocalBroker(BrokerConfig.private(tmp_path_factory.mktemp("kafka") / "broker"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop(wipe=True)


@pytest.fixture()
def topic_prefix() -> str:
    """A unique topic-name prefix per test, so tests never see each other's records."""
    return f"t-{uuid.uuid4().hex[:8]}."


@pytest.fixture()
def make_broker_config() -> Callable[[Path], BrokerConfig]:
    """Config of a further private broker, for tests of the broker's own lifecycle."""
    return BrokerConfig.private


@pytest.fixture()
def command_env(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a `storyline` command a test runs on this broker: its own topics
    and data folder, the operations endpoints off (the default ports are every test's),
    warnings and worse in the log."""
    return dict(os.environ, STORYLINE_BOOTSTRAP_SERVERS=kafka_bootstrap,
                STORYLINE_TOPIC_PREFIX=topic_prefix, STORYLINE_DATA_DIR=str(tmp_path / "data"),
                STORYLINE_WORKER_METRICS_PORT="0", STORYLINE_LOG_LEVEL="warning")


def settings_of(env: Mapping[str, str], **fields: Any) -> Settings:
    """The settings a `storyline` command run with ``env`` reads: its ``STORYLINE_<FIELD>``
    variables (its broker, topic prefix, data folder...; not the nested LLM ones), then
    ``fields``."""
    found: dict[str, Any] = {name: env[f"STORYLINE_{name.upper()}"]
                             for name in Settings.model_fields
                             if name != "llm" and f"STORYLINE_{name.upper()}" in env}
    return Settings(**{**found, **fields})


@pytest.fixture()
def settings_for() -> Callable[..., Settings]:
    """:func:`settings_of`: the settings of ``command_env`` (or of any environment a test
    runs a command with), for the test's own clients of the same topics."""
    return settings_of
