"""The outage tracker: one line when the broker goes, a reminder at most every so often,
one line when it is back; everything in between held back and counted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from storyline import outages
from storyline.logconfig import configure_logging
from storyline.outages import OutageLogFilter, OutageTracker, parse_bootstrap


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def lines(capfd: pytest.CaptureFixture[str]) -> Iterator[list[dict[str, object]]]:
    configure_logging("info", "json")
    captured: list[dict[str, object]] = []
    yield captured
    structlog.reset_defaults()


def read(capfd: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    out = []
    for line in capfd.readouterr().err.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"event": line, "level": "raw"})
    return out


def record(name: str, message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_an_outage_is_three_lines(capfd: pytest.CaptureFixture[str],
                                  lines: list[dict[str, object]]) -> None:
    clock = Clock()
    up = {"value": False}
    tracker = OutageTracker("127.0.0.1:1", reminder_seconds=60, quiet_seconds=3,
                            clock=clock, reachable=lambda: up["value"], probe_every=None)
    noise = OutageLogFilter(tracker)
    # an unrelated warning passes while all is well
    assert noise.filter(record("aiokafka.consumer", "Topic x not found", logging.WARNING))
    assert noise.filter(record("aiokafka.conn", "connected", logging.INFO))
    # 90 s of aiokafka failing several times a second
    passed = []
    for _ in range(900):
        clock.now += 0.1
        passed.append(noise.filter(record(
            "aiokafka.conn", "Unable connect to node with id 1: [Errno 111] Connect call "
            "failed ('127.0.0.1', 9092)")))
        passed.append(noise.filter(record("aiokafka.consumer.fetcher",
                                          "Failed fetch messages from 1: NodeNotReadyError")))
        assert not tracker.check_recovered()  # failing now: not over whatever TCP says
    assert not any(passed) and tracker.active
    clock.now += 5
    assert not tracker.check_recovered()  # quiet, but the broker does not answer yet
    up["value"] = True
    assert tracker.check_recovered() and not tracker.active
    said = read(capfd)
    assert [(e["event"], e["level"]) for e in said] == [
        ("kafka.unreachable", "warning"), ("kafka.still_unreachable", "warning"),
        ("kafka.reachable", "warning")]
    assert "Unable connect" in str(said[0]["error"])
    # held back: every failure line, the first included (kafka.unreachable said it)
    assert said[2]["held_back"] == 1800 and said[2]["seconds"] == 94.9  # from the first failure
    assert said[2]["by_source"] == {"aiokafka.conn": 900, "aiokafka.consumer.fetcher": 900}
    # the reconnection's aftermath (a coordinator still loading) is held back while it
    # settles, whether or not it looks like a connection failure, and summed up at INFO
    clock.now += 1
    assert not noise.filter(record("aiokafka.consumer.group_coordinator",
                                   "Heartbeat failed for group g: coordinator (node 1) is "
                                   "either not started or not valid", logging.WARNING))
    assert not noise.filter(record("aiokafka.consumer.group_coordinator",
                                   "Heartbeat session expired - marking coordinator dead"))
    assert not tracker.check_settled() and not tracker.active
    clock.now += 30
    assert tracker.check_settled()
    [settled] = read(capfd)
    assert (settled["event"], settled["level"], settled["held_back"]) == (
        "kafka.settled", "info", 2)
    # after that, warnings pass again, and the next failure is a new outage
    assert noise.filter(record("aiokafka.consumer", "Topic x not found", logging.WARNING))
    assert not noise.filter(record("aiokafka.client", "Unable to update metadata from [1]"))
    assert read(capfd)[0]["event"] == "kafka.unreachable"


def test_a_long_quiet_outage_is_still_reminded_of(capfd: pytest.CaptureFixture[str],
                                                  lines: list[dict[str, object]]) -> None:
    clock = Clock()
    tracker = OutageTracker("127.0.0.1:1", reminder_seconds=60, clock=clock,
                            reachable=lambda: False, probe_every=None)
    tracker.failure("aiokafka.conn", "Unable connect to node with id 1")
    for _ in range(150):  # what the probe thread does each second; the clients are silent
        clock.now += 1
        tracker.remind()
        tracker.check_recovered()
    said = [e["event"] for e in read(capfd)]
    assert said == ["kafka.unreachable", "kafka.still_unreachable", "kafka.still_unreachable"]


def test_storyline_retry_lines_are_held_back_too(capfd: pytest.CaptureFixture[str],
                                                 lines: list[dict[str, object]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    tracker = OutageTracker("127.0.0.1:1", clock=clock, reachable=lambda: False,
                            probe_every=None)
    monkeypatch.setattr(outages, "_tracker", tracker)
    log = structlog.get_logger("storyline.worker")
    log.warning("commit_failed", error="KafkaConnectionError: Unable connect to node")
    for _ in range(20):
        log.warning("publish_retry", topic="t", error="KafkaTimeoutError", retry_in=1)
        log.warning("commit_failed", error="NodeNotReadyError")
    log.warning("dead_letter", reason="not a connection problem")  # not held back
    log.warning("commit_failed", error="CommitFailedError: rebalance")  # still held
    said = read(capfd)
    assert [e["event"] for e in said] == ["kafka.unreachable", "dead_letter"]
    assert tracker.held == {"commit_failed": 22, "publish_retry": 20}


def test_a_failure_that_is_not_about_the_connection_passes(
        capfd: pytest.CaptureFixture[str], lines: list[dict[str, object]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = OutageTracker("127.0.0.1:1", reachable=lambda: False, probe_every=None)
    monkeypatch.setattr(outages, "_tracker", tracker)
    structlog.get_logger("x").warning("commit_failed", error="CommitFailedError: rebalance")
    assert [e["event"] for e in read(capfd)] == ["commit_failed"]
    assert not tracker.active


def test_bootstrap_parsing() -> None:
    assert parse_bootstrap("a:1, kafka://b:2,[::1]:3") == [("a", 1), ("b", 2), ("::1", 3)]


def test_the_settling_is_30_seconds_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production holds the reconnection's aftermath back for 30 s; the outage test sets a
    shorter settling through the environment."""
    from storyline.settings import Settings

    monkeypatch.delenv("STORYLINE_OUTAGE_SETTLE_SECONDS", raising=False)
    assert Settings().outage_settle_seconds == 30.0
    assert OutageTracker("127.0.0.1:1").settle_seconds == 30.0
    monkeypatch.setenv("STORYLINE_OUTAGE_SETTLE_SECONDS", "10")
    assert Settings().outage_settle_seconds == 10.0


def test_a_crash_of_the_code_the_client_runs_passes_during_an_outage() -> None:
    tracker = OutageTracker("127.0.0.1:1", reachable=lambda: False, probe_every=None)
    noise = OutageLogFilter(tracker)
    assert not noise.filter(record("aiokafka.conn", "Unable connect to node with id 1"))
    assert tracker.holding

    def crashed(name: str, exc: BaseException, level: int = logging.ERROR
                ) -> logging.LogRecord:
        line = record(name, "Agent crashed", level)
        line.exc_info = (type(exc), exc, None)
        return line

    # an agent that raised an error of its own is said, outage or not
    assert noise.filter(crashed("faust.agents.actor", RuntimeError("log truncated")))
    # the outage's echoes stay held back: a client's own errors, sockets, plain warnings
    from aiokafka.errors import NotLeaderForPartitionError
    assert not noise.filter(crashed("faust.agents.actor", NotLeaderForPartitionError()))
    assert not noise.filter(crashed("aiokafka.consumer", ConnectionResetError("reset")))
    assert not noise.filter(crashed("mode.services", RuntimeError("x"), logging.WARNING))
    assert not noise.filter(record("faust.transport", "Heartbeat failed", logging.WARNING))
