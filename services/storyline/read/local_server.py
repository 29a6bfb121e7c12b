"""Run the API on a loopback port inside this process: for tests, benchmarks and demos."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI

from storyline.kafka.broker import free_port


def _config(app: FastAPI, port: int) -> uvicorn.Config:
    return uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                          access_log=False, lifespan="on")


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Serve on the running event loop; yields the base url."""
    port = port or free_port()
    server = uvicorn.Server(_config(app, port))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        else:
            raise TimeoutError("the API did not start within 5 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.contextmanager
def serving_in_thread(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Serve from a background thread (for callers that block, like a browser subprocess)."""
    port = port or free_port()
    server = uvicorn.Server(_config(app, port))
    thread = threading.Thread(target=server.run, name="storyline-api", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
