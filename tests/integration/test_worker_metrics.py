"""The single-process worker's /metrics, /livez and /readyz on a real broker: after a run over some
articles (one of them poison) its counters show exactly what it did."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_worker_replay import (
    env,  # noqa: F401 - a fixture used by name below
    make_articles,
    produce,
    start_worker,
    stop,
    wait_caught_up,
)

from storyline.domain.canonical import canonical_bytes
from storyline.kafka.broker import free_port
from storyline.settings import Settings

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def wait_for(condition: str, check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {condition}")


def test_worker_metrics_show_the_counts(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,  # noqa: F811
) -> None:
    settings = settings_for(env)
    port = free_port()
    env = dict(env, STORYLINE_WORKER_METRICS_PORT=str(port))
    values = [canonical_bytes(a) for a in make_articles(6)]
    values.insert(3, b'{"event_type": "ArticleReceived", "uri": 42}')  # poison record
    values.append(values[0])  # a resend: taken from the log, no revision
    asyncio.run(produce(settings, values))

    log = tmp_path / "worker.log"
    # the single-process worker's endpoints (the stages': test_stage_operations.py)
    worker = start_worker(env, log, "--single")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_caught_up(env)

        def ready() -> bool:
            try:
                return get(f"{base}/readyz")[0] == 200
            except OSError:
                return False

        wait_for("/readyz", ready)
        status, body = get(f"{base}/readyz")
        answer = json.loads(body)
        assert answer["partitions"] == {f"{settings.articles}/0": {"rebuilt": True, "lag": 0}}
        assert get(f"{base}/livez")[0] == 200
        status, text = get(f"{base}/metrics")
        assert status == 200
    finally:
        stop(worker)

    found = samples(text)
    articles = settings.articles
    assert found[("storyline_articles_processed_total", (("outcome", "folded"),))] == 6
    assert found[("storyline_articles_processed_total", (("outcome", "dead_letter"),))] == 1
    assert found[("storyline_articles_processed_total", (("outcome", "unchanged"),))] == 1
    assert found[("storyline_dead_letters_total",
                  (("reason", "UndecodableEvent"), ("stage", "worker")))] == 1
    updates = found[("storyline_story_updates_published_total", ())]
    assert updates == 6  # each article makes one revision of its story
    assert found[("storyline_produce_to_update_seconds_count", ())] == updates
    # produced a moment before the worker started: every latency is seconds, not hours
    assert found[("storyline_produce_to_update_seconds_bucket", (("le", "+Inf"),))] == updates
    assert found[("storyline_produce_to_update_seconds_sum", ())] < updates * 120
    lag = (("consumer", "worker"), ("partition", "0"), ("topic", articles))
    assert found[("storyline_consumer_lag_records", lag)] == 0
    assert found[("storyline_state_age_seconds", lag)] == 0
    assert found[("storyline_ready", (("process", "worker"),))] == 1
