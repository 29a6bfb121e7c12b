"""Starting an aiokafka client so that a start that fails or is cancelled leaves nothing open.

aiokafka's ``start()`` opens connections before it can fail (the bootstrap, the metadata, a
coordinator), and a client whose ``start()`` did not return is still open: its connections
stay until the process ends and its ``__del__`` logs "Unclosed AIOKafkaConsumer" at ERROR
(the read API stopped while its projector was still starting showed both). Every client is
therefore started with :func:`started`, which stops it again on the way out."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar


class Startable(Protocol):
    async def start(self) -> None: ...


Client = TypeVar("Client", bound=Startable)


async def started(client: Client) -> Client:
    """``await client.start()``; if that raises or is cancelled, the client is stopped
    (``stop()``, or ``close()`` for the admin client) before the exception goes on."""
    try:
        await client.start()
    except BaseException:
        closing: Callable[[], Awaitable[object]] | None = (
            getattr(client, "stop", None) or getattr(client, "close", None))
        if closing is not None:
            # the start's own failure is the one to report; a stop that fails on a client
            # half started has nothing to add
            with contextlib.suppress(Exception):
                await closing()
        raise
    return client
