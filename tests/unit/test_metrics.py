"""Prometheus metrics, liveness and readiness (no broker), and the Grafana dashboard."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from storyline import outages
from storyline.domain.canonical import canonical_bytes
from storyline.domain.pipeline import Warmth
from storyline.metrics import (
    CONSUMER_LAG,
    STATE_AGE,
    FoldWarmthMetrics,
    Health,
    LoopWatch,
    OperationsServer,
    exported_sample_names,
    generate_latest,
    record_lag,
)
from storyline.outages import OutageTracker
from storyline.read.config import ReadSettings
from storyline.read.projector import Projector, StoreOfAnotherTopic, decode_record
from storyline.read.samples import story_history, updates
from storyline.read.store import ReadStore, open_store
from storyline.settings import Settings
from storyline.stream.stage_ops import JoinedProbe, StageProbe, stage_port
from storyline.stream.worker import WorkerProbe
from storyline.web.app import create_app

TOPIC = "storyline.story-updates"
DEPLOY = Path(__file__).parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "storyline.json"
ALERTS = DEPLOY / "prometheus" / "storyline-alerts.yml"


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def load(store: ReadStore, events: list[Any]) -> None:
    store.apply(TOPIC, [decode_record(0, i, b"k", canonical_bytes(e))
                        for i, e in enumerate(events)])


@pytest.fixture()
def store(tmp_path: Path) -> ReadStore:
    opened = open_store(tmp_path / "read.sqlite3")
    load(opened, updates(story_history(revisions=3)))
    return opened


def client_for(store: ReadStore) -> TestClient:
    app = create_app(store, settings=Settings(topic_prefix=""),
                     read_settings=ReadSettings(api_keys=None))
    return TestClient(app, follow_redirects=False)


def test_http_latency_is_labelled_by_route_template_not_raw_path(store: ReadStore) -> None:
    template = {"method": "GET", "route": "/v1/stories/{story_id}", "status": "200"}
    missing = {"method": "GET", "route": "/v1/stories/{story_id}", "status": "404"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    count = "storyline_http_request_duration_seconds_count"
    before = (sample(count, template), sample(count, missing), sample(count, unmatched))
    with client_for(store) as client:
        assert client.get("/v1/stories/story-kursk").status_code == 200
        assert client.get("/v1/stories/story-kursk").status_code == 200
        assert client.get("/v1/stories/no-such-story-qzx").status_code == 404
        assert client.get("/no/such/path/qzx").status_code == 404
        exposition = client.get("/metrics")
    assert exposition.status_code == 200
    assert exposition.headers["content-type"].startswith("text/plain")
    text = exposition.text
    assert sample(count, template) == before[0] + 2
    assert sample(count, missing) == before[1] + 1
    assert sample(count, unmatched) == before[2] + 1
    # no raw path ever becomes a label value (letters, not digits: a digit run
    # can appear in the _created timestamps)
    assert "story-kursk" not in text and "qzx" not in text
    assert 'route="/v1/stories/{story_id}"' in text


def test_livez_and_readyz_of_the_api(store: ReadStore, monkeypatch: pytest.MonkeyPatch
                                     ) -> None:
    with client_for(store) as client:
        assert client.get("/livez").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["last_event_id"] == 3
        assert sample("storyline_ready", {"process": "api"}) == 1

        def unreachable() -> int:
            raise ConnectionError("database is gone")

        monkeypatch.setattr(store, "max_seq", unreachable)
        down = client.get("/readyz")
        assert down.status_code == 503
        assert "database is gone" in down.json()["reasons"][0]
        assert sample("storyline_ready", {"process": "api"}) == 0


def test_projector_readiness_needs_a_reachable_store_and_a_small_lag(store: ReadStore) -> None:
    projector = Projector(store, bootstrap="127.0.0.1:1", topic="t")
    assert not projector.readiness(10).ok  # not consuming yet
    projector.lags = {0: 3, 1: None}
    health = projector.readiness(10)
    assert not health.ok and health.detail["reasons"] == ["partition 1: end of the log not "
                                                          "known yet"]
    projector.lags = {0: 3, 1: 10}
    assert projector.readiness(10).ok
    projector.lags = {0: 3, 1: 11}
    assert projector.readiness(10).detail["reasons"] == ["partition 1: 11 records behind"]
    projector.lags = {0: 3, 1: 0}
    assert projector.readiness(10, "Kafka unreachable for 3 s").detail["reasons"] == [
        "Kafka unreachable for 3 s"]


async def test_a_projector_refuses_a_store_of_another_topic_and_says_so(store: ReadStore
                                                                       ) -> None:
    """A second deployment (a new pipeline version beside the old) pointed at the first's
    store: its revisions would be refused as conflicts one by one while the API served the
    other's pages. It refuses the store before it reads anything, and is never ready."""
    assert store.projected_topics() == [TOPIC]
    projector = Projector(store, bootstrap="127.0.0.1:1", topic=f"v2.{TOPIC}")
    with pytest.raises(StoreOfAnotherTopic, match=f"holds the pages of {TOPIC}, not of v2."):
        await projector.run(until_caught_up=True)
    projector.lags = {0: 0}
    health = projector.readiness(10)
    assert not health.ok and "STORYLINE_READ_DATABASE_URL" in health.detail["reasons"][0]
    assert store.positions(f"v2.{TOPIC}") == {}  # nothing taken from it


def test_worker_readiness(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = WorkerProbe(max_lag=5)
    assert not probe.ready().ok  # no assignment yet
    probe.assigned = frozenset()
    assert probe.ready().ok  # a standby member with no partitions is ready
    probe.assigned = frozenset({("a", 0)})
    assert probe.ready().detail["reasons"] == ["a/0: state not rebuilt yet"]
    probe.rebuilt = frozenset({("a", 0)})
    probe.lags = {("a", 0): 6}
    assert probe.ready().detail["reasons"] == ["a/0: 6 records behind"]
    probe.lags = {("a", 0): 5}
    assert probe.ready().ok
    # a broker outage makes it unready (it cannot keep up), not dead
    clock = [10.0]
    tracker = OutageTracker("127.0.0.1:1", clock=lambda: clock[0], reachable=lambda: False,
                            probe_every=None)
    monkeypatch.setattr(outages, "_tracker", tracker)
    tracker.failure("aiokafka.conn", "Unable connect to node")
    clock[0] += 12
    assert probe.ready().detail["reasons"] == ["Kafka unreachable for 12 s"]
    assert probe.live().ok


def test_loop_watch_fails_liveness_after_a_stall() -> None:
    now = [100.0]
    watch = LoopWatch(stall_seconds=30, clock=lambda: now[0])
    now[0] += 30
    assert watch.health().ok
    now[0] += 0.5
    assert not watch.health().ok
    watch.beat()
    assert watch.health().ok


def test_lag_and_state_age() -> None:
    assert record_lag("test", "t", 7, end=None, position=3, last_timestamp=None) is None
    assert record_lag("test", "t", 7, end=10, position=4, last_timestamp=1000.0,
                      now=1012.5) == 6
    assert CONSUMER_LAG.labels("test", "t", "7")._value.get() == 6
    assert STATE_AGE.labels("test", "t", "7")._value.get() == 12.5
    assert record_lag("test", "t", 7, end=10, position=10, last_timestamp=1000.0,
                      now=1012.5) == 0
    assert STATE_AGE.labels("test", "t", "7")._value.get() == 0  # caught up: not stale


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_operations_server() -> None:
    answers = {"ready": Health(False, {"reasons": ["behind"]})}

    def broken() -> Health:
        raise RuntimeError("probe bug")

    server = OperationsServer("127.0.0.1", 0, process="unit", live=broken,
                              ready=lambda: answers["ready"]).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        status, body = get(f"{base}/metrics")
        assert status == 200 and "storyline_consumer_lag_records" in body
        status, body = get(f"{base}/readyz")
        assert status == 503 and json.loads(body)["reasons"] == ["behind"]
        assert sample("storyline_ready", {"process": "unit"}) == 0
        answers["ready"] = Health(True)
        assert get(f"{base}/readyz")[0] == 200
        assert sample("storyline_ready", {"process": "unit"}) == 1
        status, body = get(f"{base}/livez")
        assert status == 503 and "probe bug" in json.loads(body)["error"]
        assert get(f"{base}/nope")[0] == 404
    finally:
        server.stop()


def dashboard_expressions() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"]
             for target in panel.get("targets", [])]
    assert exprs
    return exprs


def test_dashboard_uses_exactly_the_exported_metric_names() -> None:
    exported = exported_sample_names()
    used: set[str] = set()
    for expr in dashboard_expressions():
        names = set(re.findall(r"\b(storyline_[a-z0-9_]+)\b", expr))
        assert names, f"panel expression reads no Storyline metric: {expr}"
        used |= names
    assert used <= exported, f"dashboard reads metrics nobody exports: {used - exported}"
    # ... and every metric exported has a panel
    families = {re.sub(r"_(total|bucket|sum|count|created)$", "", n) for n in exported}
    shown = {re.sub(r"_(total|bucket|sum|count|created)$", "", n) for n in used}
    assert families == shown, f"exported but on no panel: {families - shown}"


def test_alert_rules_read_only_exported_metrics() -> None:
    import yaml

    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"]
             for rule in group["rules"]]
    assert rules
    for rule in rules:
        names = set(re.findall(r"\b(storyline_[a-z0-9_]+)\b", rule["expr"]))
        assert names and names <= exported_sample_names(), (rule["alert"], names)


def test_exported_names_match_what_the_exposition_format_says() -> None:
    """exported_sample_names is derived by hand from the metric types; hold it to what
    prometheus-client really writes once each metric has a sample."""
    text = generate_latest().decode()
    written = {s.name for family in text_string_to_metric_families(text)
               for s in family.samples if s.name.startswith("storyline_")}
    assert written <= exported_sample_names()


def test_a_stage_is_ready_once_started_and_caught_up_on_every_partition() -> None:
    probe = StageProbe("extract-7", max_lag=5)
    assert not probe.ready().ok and "starting" in probe.ready().detail["reason"]
    probe.started = True
    assert not probe.ready().ok  # nothing observed yet: the log's end is unknown
    probe.observe("t.articles", 0, end=None, position=0, last_timestamp=None)
    assert probe.ready().detail["reason"] == "the end of its log is not known yet"
    probe.observe("t.articles", 0, end=100, position=94, last_timestamp=None)
    assert not probe.ready().ok and probe.ready().detail["partitions"] == {"t.articles/0": 6}
    assert REGISTRY.get_sample_value("storyline_ready", {"process": "extract-7"}) == 0
    probe.observe("t.articles", 0, end=100, position=95, last_timestamp=None)
    probe.observe("t.facts", 1, end=3, position=3, last_timestamp=None)
    assert probe.ready().ok
    assert probe.ready().detail["partitions"] == {"t.articles/0": 5, "t.facts/1": 0}
    assert REGISTRY.get_sample_value("storyline_ready", {"process": "extract-7"}) == 1
    assert REGISTRY.get_sample_value(
        "storyline_consumer_lag_records",
        {"consumer": "extract-7", "topic": "t.articles", "partition": "0"}) == 5


def test_stage_ports_follow_the_worker_port() -> None:
    settings = Settings(worker_metrics_port=9500)
    assert [stage_port(settings, i) for i in range(3)] == [9500, 9501, 9502]
    assert stage_port(Settings(worker_metrics_port=0), 2) == 0


def test_a_process_of_one_stage_can_listen_on_one_fixed_port() -> None:
    # a container per stage (deploy/k8s, docker-compose) probes the same port in each
    settings = Settings(worker_metrics_port=9500, stage_metrics_port=9470)
    assert [stage_port(settings, i) for i in range(3)] == [9470, 9470, 9470]


def test_stripes_sharing_a_process_answer_ready_only_when_each_is() -> None:
    # one extract process running two stripes behind one fixed port (a container per stage)
    first, second = StageProbe("extract-0", max_lag=5), StageProbe("extract-1", max_lag=5)
    both = JoinedProbe([first, second])
    assert both.process == "extract-0+extract-1"
    for probe in (first, second):
        probe.started = True
        probe.observe("t.articles", 0, end=100, position=100, last_timestamp=None)
    assert both.ready().ok and both.live().ok
    second.observe("t.articles", 0, end=100, position=50, last_timestamp=None)
    ready = both.ready()
    assert not ready.ok
    assert ready.detail["extract-1"]["reason"] == "behind the end of its log"
    assert ready.detail["extract-0"]["partitions"] == {"t.articles/0": 0}


def test_a_folds_budgets_are_published_as_counters_that_never_go_back() -> None:
    def frozen(reason: str) -> float:
        return sample("storyline_fold_stories_frozen_total", {"reason": reason})

    before = (frozen("idle"), frozen("over_budget"),
              sample("storyline_fold_stories_thawed_total", {}),
              sample("storyline_fold_memo_analyses_dropped_total", {}))
    metrics = FoldWarmthMetrics()
    first, second = object(), object()  # two pipelines: the second made by a restore
    metrics.publish(first, Warmth(frozen_idle=2, frozen_over_budget=5, thawed=4,
                                  analyses_dropped=480, articles_in_play=65_000,
                                  articles_budget=65_536, analyses_kept=8_000,
                                  analyses_budget=8_192))
    metrics.publish(first, Warmth(frozen_idle=3, frozen_over_budget=5, thawed=6,
                                  analyses_dropped=480, articles_in_play=64_000,
                                  articles_budget=65_536, analyses_kept=8_100,
                                  analyses_budget=8_192))
    metrics.publish(second, Warmth(frozen_idle=1, thawed=1, articles_in_play=10,
                                   articles_budget=4_096, analyses_budget=512))
    after = (frozen("idle"), frozen("over_budget"),
             sample("storyline_fold_stories_thawed_total", {}),
             sample("storyline_fold_memo_analyses_dropped_total", {}))
    assert [a - b for a, b in zip(after, before, strict=True)] == [4, 5, 7, 480]
    assert sample("storyline_fold_budget_held", {"budget": "articles"}) == 10
    assert sample("storyline_fold_budget_held", {"budget": "analyses"}) == 0
    assert sample("storyline_fold_budget_limit", {"budget": "articles"}) == 4_096
    assert sample("storyline_fold_budget_limit", {"budget": "analyses"}) == 512
