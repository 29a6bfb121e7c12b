"""A client whose start fails or is cancelled is stopped again (storyline.kafka.clients).

The broker here is a loopback socket that accepts and never answers, so aiokafka's start is
still waiting for its bootstrap when it is cancelled: where the read API was when it shut
down because its port was taken, which left the projector's consumer open ("Unclosed
AIOKafkaConsumer" at ERROR)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from storyline.kafka.clients import started
from storyline.read.projector import Projector
from storyline.read.store import open_store


@pytest.fixture
async def silent_broker() -> AsyncIterator[str]:
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def _cancelled_while_starting(coroutine: Any) -> None:
    task = asyncio.ensure_future(coroutine)
    await asyncio.sleep(0.3)
    assert not task.done()  # still in the bootstrap
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_consumer_cancelled_in_its_start_is_closed(silent_broker: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=silent_broker, request_timeout_ms=30_000)
    await _cancelled_while_starting(started(consumer))
    assert consumer._closed


async def test_a_projector_stopped_while_its_consumer_starts_leaves_nothing_open(
        silent_broker: str, tmp_path: Path) -> None:
    reported: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context["message"]))
    store = open_store(tmp_path / "read.sqlite3")
    projector = Projector(store, bootstrap=silent_broker, topic="story-updates")
    await _cancelled_while_starting(projector.run())
    gc.collect()  # aiokafka reports an unclosed client from its __del__
    await asyncio.sleep(0)
    assert not [message for message in reported if "Unclosed" in message], reported


async def test_a_cancelled_start_ends_before_the_client_is_stopped() -> None:
    """aiokafka leaves the connection its start is using open when that start is cancelled
    (``AIOKafkaClient.bootstrap``): the start is let finish, then the client is stopped."""
    steps: list[str] = []

    class Client:
        async def start(self) -> None:
            steps.append("start")
            await asyncio.sleep(0.3)  # a bootstrap waiting for the cluster's metadata
            steps.append("started")

        async def stop(self) -> None:
            steps.append("stop")

    task = asyncio.ensure_future(started(Client()))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["start", "started", "stop"]


async def test_a_start_that_never_ends_is_cut_off_after_the_grace(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from storyline.kafka import clients

    monkeypatch.setattr(clients, "START_GRACE_SECONDS", 0.2)
    stopped: list[bool] = []

    class Client:
        async def start(self) -> None:
            await asyncio.Event().wait()

        async def stop(self) -> None:
            stopped.append(True)

    task = asyncio.ensure_future(started(Client()))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert stopped == [True]
