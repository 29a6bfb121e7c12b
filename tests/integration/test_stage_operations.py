"""The stage processes are watched like the worker (docs/stages.md, docs/operations.md): on a
real broker, `storyline worker --stage all --processes 2` serves /metrics, /livez and
/readyz from the fold (the worker's port) and from each extract stripe (the next ports);
the fold's lag on the articles topic falls to 0 once it has applied the whole log, and every
stripe reports its own lag."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_stages_kafka import ARTICLES, env, produce, start, stop, wait_for

from storyline.replay import records_from_files
from storyline.settings import Settings

pytestmark = pytest.mark.integration
__all__ = ["env"]  # the fixture, shared

COUNT = 30


def _free_base(span: int) -> int:
    """A port p with p .. p + span - 1 all free now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + span > 65535:
            continue
        try:
            for port in range(base, base + span):
                with socket.socket() as taken:
                    taken.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports")


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _lags(port: int) -> dict[tuple[str, str, str], float]:
    status, body = _get(port, "/metrics")
    if status != 200:
        return {}
    return {(s.labels["consumer"], s.labels["topic"], s.labels["partition"]): s.value
            for family in text_string_to_metric_families(body.decode())
            if family.name == "storyline_consumer_lag_records" for s in family.samples}


def _with_articles(settings: Settings) -> Settings:
    """``settings``, their articles topic holding the first COUNT dev articles and a resend
    of the first one."""
    log = records_from_files([ARTICLES], settings.articles, COUNT)
    records = [(key or b"", value or b"") for key, value, _ in log]
    asyncio.run(produce(settings, [*records, records[0]]))
    return settings


def _processed(port: int) -> dict[str, float]:
    """The fold's ``storyline_articles_processed_total`` by outcome."""
    status, body = _get(port, "/metrics")
    assert status == 200
    return {s.labels["outcome"]: s.value
            for family in text_string_to_metric_families(body.decode())
            if family.name == "storyline_articles_processed" for s in family.samples
            if s.name.endswith("_total")}


def test_every_stage_process_serves_its_lag_and_readiness(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = _with_articles(settings_for(env))
    base = _free_base(3)
    env = {**env, "STORYLINE_WORKER_METRICS_PORT": str(base)}
    logs = [tmp_path / "stages.log"]
    stages = start(env, logs[0], "--stage", "all", "--processes", "2")
    try:
        fold, stripes = base, (base + 1, base + 2)
        wait_for(lambda: _get(fold, "/readyz")[0] == 200, "the fold to be ready", 300, logs,
                 [stages])
        # ready (within STORYLINE_READY_MAX_LAG) comes first; then the lag falls to 0
        wait_for(lambda: _lags(fold).get(("fold", settings.articles, "0")) == 0,
                 "the fold to apply every article", 300, logs, [stages])
        lags = _lags(fold)
        assert {(c, t) for c, t, _ in lags} == {("fold", settings.articles),
                                                ("fold", settings.facts)}
        ready = json.loads(_get(fold, "/readyz")[1])
        assert ready["status"] == "ok" and ready["partitions"][f"{settings.articles}/0"] == 0
        for stripe, port in enumerate(stripes):
            assert _get(port, "/livez")[0] == 200
            wait_for(lambda port=port: _get(port, "/readyz")[0] == 200,  # type: ignore[misc]
                     f"extract stripe {stripe} to be ready", 120, logs, [stages])
            assert _lags(port) == {(f"extract-{stripe}", settings.articles, "0"): 0}
        assert _get(fold, "/livez")[0] == 200
        # every record of the log in one outcome: the resend changed nothing
        assert _processed(fold) == {"folded": COUNT, "unchanged": 1}
    finally:
        stop(stages)


def test_stripes_of_one_process_on_one_fixed_port_answer_together(
        env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    """A container running both stripes (`--stripe 0 --stripe 1`) on its one probed port
    (STORYLINE_STAGE_METRICS_PORT): /readyz is ready once each stripe is, and says so for
    each; /metrics has both stripes' lags."""
    settings = _with_articles(settings_for(env))
    port = _free_base(1)
    env = {**env, "STORYLINE_STAGE_METRICS_PORT": str(port)}
    logs = [tmp_path / "extract.log"]
    extract = start(env, logs[0], "--stage", "extract", "--stripe", "0", "--stripe", "1",
                    "--stripes", "2")
    try:
        wait_for(lambda: _get(port, "/readyz")[0] == 200, "both stripes to be ready", 120,
                 logs, [extract])
        # ready within STORYLINE_READY_MAX_LAG first; then both read to the end
        wait_for(lambda: set(_lags(port).values()) == {0}, "both stripes to read every "
                 "article", 120, logs, [extract])
        ready = json.loads(_get(port, "/readyz")[1])
        for stripe in ("extract-0", "extract-1"):
            assert ready[stripe]["partitions"] == {f"{settings.articles}/0": 0}, ready
        assert _get(port, "/livez")[0] == 200
        assert _lags(port) == {(f"extract-{stripe}", settings.articles, "0"): 0
                               for stripe in range(2)}
    finally:
        stop(extract)
