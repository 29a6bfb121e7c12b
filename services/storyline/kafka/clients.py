"""Starting an aiokafka client so that a start that fails or is cancelled leaves nothing open.

aiokafka's ``start()`` opens connections before it can fail (the bootstrap, the metadata, a
coordinator), and a client whose ``start()`` did not return is still open: its connections
stay until the process ends and its ``__del__`` logs "Unclosed AIOKafkaConsumer" at ERROR
(the read API stopped while its projector was still starting showed both). Every client is
therefore started with :func:`started`, which stops it again on the way out, and a consumer
is stopped with :func:`stop_consumer`, which closes it also when aiokafka's own stop is cut
short."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar


class Startable(Protocol):
    async def start(self) -> None: ...


Client = TypeVar("Client", bound=Startable)


#: How long a cancelled start may go on to end by itself (see :func:`started`).
START_GRACE_SECONDS = 5.0


async def started(client: Client) -> Client:
    """``await client.start()``; if that raises or is cancelled, the client is stopped
    (``stop()``, or ``close()`` for the admin client) before the exception goes on.

    A cancelled start is first given ``START_GRACE_SECONDS`` to end by itself: aiokafka
    (0.14) leaves its bootstrap connection open when cancelled while that connection waits
    for the cluster's metadata (``AIOKafkaClient.bootstrap``), out of reach of ``stop()``
    ("Unclosed AIOKafkaConnection" at ERROR when the read API shut down as it started)."""
    starting = asyncio.ensure_future(client.start())
    try:
        await asyncio.shield(starting)
    except BaseException:
        if not starting.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(starting), START_GRACE_SECONDS)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(BaseException):
                    await starting
        closing: Callable[[], Awaitable[object]] | None = (
            getattr(client, "stop", None) or getattr(client, "close", None))
        if closing is not None:
            # the start's own failure is the one to report; a stop that fails on a client
            # half started has nothing to add
            with contextlib.suppress(Exception):
                await closing()
        raise
    return client


async def stop_consumer(consumer: Any) -> None:
    """``consumer.stop()``, also while the broker is away.

    aiokafka (0.14) stops its fetcher by cancelling the fetch tasks and awaiting each; a
    task that is waiting out its retry backoff after a failed fetch (the broker down) gives
    that CancelledError back to the caller of ``stop()``, so a reader that had just read all
    it wanted died of a cancellation nobody asked for (the fold stage's rebuild, in a broker
    bounce), and the consumer's connections were left open. Only a cancellation of the
    calling task itself goes on, after the tasks and connections left are closed here (the
    read API's projector is stopped by a cancellation)."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        fetcher = getattr(consumer, "_fetcher", None)
        pending = list(getattr(fetcher, "_pending_tasks", ()))
        for left in pending:
            left.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await consumer._client.close()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
