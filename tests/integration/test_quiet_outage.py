"""A broker outage of 30 s is quiet: each process (the worker, `storyline serve` with its
projector, a `storyline projector`) writes at most 5 lines at WARNING or above about it:
one when it starts, a reminder at most every STORYLINE_OUTAGE_REMINDER_SECONDS, one when it
ends. Without the filter, aiokafka alone logs an ERROR for every connection attempt. The
worker and the projector are live but not ready meanwhile, and ready again after.

On a private broker of its own (it is stopped and started again)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from test_worker_replay import make_articles, produce

from storyline.domain.canonical import canonical_bytes
from storyline.kafka.broker import BrokerConfig, LocalBroker, free_port
from storyline.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STORYLINE = [sys.executable, "-m", "storyline.cli"]
OUTAGE_SECONDS = 30
# how long each process holds back the reconnection's aftermath (STORYLINE_OUTAGE_SETTLE_
# SECONDS; 30 by default): shorter here, so the window that follows it, in which any line
# still coming is loud and counted, ends sooner. A shorter settling can only let more of
# the aftermath through as loud lines, never fewer (the aftermath, when there is one, comes
# within seconds of kafka.reachable: docs/operations.md); what the test no longer watches
# is a line 15-35 s after kafka.reachable that no settling would have held back
SETTLE_SECONDS = 10
# every line is loud unless it says it is INFO or DEBUG: structlog's JSON, faust's
# "[INFO]", uvicorn's "INFO:" (Python's last-resort handler prints WARNING+ bare)
QUIET = re.compile(r'"level": ?"(info|debug)"|^\[[^]]*\] \[\d+\] \[(INFO|DEBUG)\]|'
                   r"^(INFO|DEBUG):")


def loud_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not QUIET.search(line)]


def events(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line)["event"])
        except (ValueError, KeyError, TypeError):
            continue
    return out


def readiness(url: str) -> tuple[int, list[str]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read()).get("reasons", [])
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()).get("reasons", [])
    except OSError:
        return 0, ["not answering"]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_30_second_broker_outage_is_quiet(make_broker_config: Callable[[Path], BrokerConfig],
                                            settings_for: Callable[..., Settings],
                                            tmp_path: Path, topic_prefix: str) -> None:
    broker = LocalBroker(make_broker_config(tmp_path / "broker"))
    broker.start()
    env = dict(os.environ)
    env.update({
        "STORYLINE_BOOTSTRAP_SERVERS": broker.bootstrap,
        "STORYLINE_TOPIC_PREFIX": topic_prefix,
        "STORYLINE_DATA_DIR": str(tmp_path / "data"),
        "STORYLINE_WORKER_METRICS_PORT": str(free_port()),
        "STORYLINE_PROJECTOR_METRICS_PORT": str(free_port()),
        "STORYLINE_LOG_FORMAT": "json",
        "STORYLINE_OUTAGE_SETTLE_SECONDS": str(SETTLE_SECONDS),
    })
    settings = settings_for(env)
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "serve", "projector")}
    probes = {name: f"http://127.0.0.1:{env[f'STORYLINE_{name.upper()}_METRICS_PORT']}/readyz"
              for name in ("worker", "projector")}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        subprocess.run([*STORYLINE, "topics", "apply"], env=env, check=True,
                       capture_output=True, timeout=120)
        articles = [canonical_bytes(a) for a in make_articles(4)]
        asyncio.run(produce(settings, articles[:3]))
        port = free_port()
        # the single-process worker: its readiness names the outage ("Kafka unreachable");
        # the staged worker's (three processes in one log) is not measured here yet
        commands = {"worker": [*STORYLINE, "worker", "--single"],
                    "serve": [*STORYLINE, "serve", "--port", str(port)],
                    "projector": [*STORYLINE, "projector", "--database",
                                  str(tmp_path / "projector.sqlite3")]}
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, env=env, stdout=logs[name].open("ab"),
                                               stderr=subprocess.STDOUT)
        subprocess.run([*STORYLINE, "status", "--wait", "--timeout", "120"], env=env,
                       check=True, capture_output=True, timeout=150)
        wait_for("serve up", lambda: "Uvicorn running" in logs["serve"].read_text()
                 or "Application startup complete" in logs["serve"].read_text(), 60)
        for name, url in probes.items():
            wait_for(f"{name} ready", lambda url=url: readiness(url)[0] == 200, 60)
        time.sleep(3)
        before = {name: len(log.read_text()) for name, log in logs.items()}

        broker.stop()
        time.sleep(OUTAGE_SECONDS / 2)
        # live but not ready while the broker is away
        for name, url in probes.items():
            status, reasons = readiness(url)
            assert status == 503 and any("Kafka unreachable" in r for r in reasons), (
                name, status, reasons)
        time.sleep(OUTAGE_SECONDS / 2)
        broker.start()
        # every process says the outage is over, and the pipeline runs again
        for name in logs:
            wait_for(f"{name}: kafka.reachable", lambda name=name: "kafka.reachable" in
                     events(logs[name].read_text()[before[name]:]),
                     float(os.environ.get("STORYLINE_OUTAGE_RECOVERY_WAIT", "120")))
        recovered = time.monotonic()
        for name, url in probes.items():
            wait_for(f"{name} ready again", lambda url=url: readiness(url)[0] == 200, 60)
        asyncio.run(produce(settings, articles[3:]))
        subprocess.run([*STORYLINE, "status", "--wait", "--timeout", "120"], env=env,
                       check=True, capture_output=True, timeout=150)
        # the window ends 5 s after the settling in which the reconnection's aftermath is
        # held back
        time.sleep(max(2.0, recovered + SETTLE_SECONDS + 5 - time.monotonic()))
        during = {name: log.read_text()[before[name]:] for name, log in logs.items()}
    finally:
        for process in processes.values():  # all stop at once, then each is waited for
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        broker.stop(wipe=True)
        keep = os.environ.get("STORYLINE_OUTAGE_LOGS")  # where to keep the logs to read
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for log in logs.values():
                if log.exists():
                    (Path(keep) / log.name).write_bytes(log.read_bytes())

    for name, text in during.items():
        loud = loud_lines(text)
        print(f"--- {name}: {len(loud)} lines at WARNING or above during the outage")
        print("\n".join(loud))
        assert len(loud) <= 5, f"{name} logged {len(loud)} loud lines:\n" + "\n".join(loud)
        said = events(text)
        assert said.count("kafka.unreachable") == 1, said
        assert said.count("kafka.reachable") == 1, said
