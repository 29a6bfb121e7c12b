"""The operations endpoints of a stage process (``storyline worker --stage extract|fold``):
``/metrics``, ``/livez`` and ``/readyz`` as the single-process worker has them
(:mod:`storyline.metrics`), so a staged deployment is watched the same way.

Ports: the fold stage takes the worker's (``STORYLINE_WORKER_METRICS_PORT``, 9465: it is
what the worker was), extract stripe *i* the next ones (9466 + *i*); 0 turns them off. The
projector's default (9464) is below them (a port already taken is logged and the process
runs without endpoints).

Consumer lag is reported per stage as ``storyline_consumer_lag_records{consumer=...}``:
``fold`` on the articles topic (log end minus the next offset the fold will apply: how far
the published revisions are behind the log) and on each facts partition (what it has not
read yet), ``extract-<i>`` on the articles topic (what stripe *i* has not read yet).
"""

from __future__ import annotations

from typing import Any, Protocol

from storyline.metrics import (
    READY,
    Health,
    LoopWatch,
    OperationsServer,
    record_lag,
    start_operations,
)
from storyline.settings import Settings


class StageProbe:
    """What a stage's /livez and /readyz answer. Live: the stage's loop turned within
    ``LoopWatch.stall_seconds``. Ready: it has started (the fold: its state rebuilt up to the
    committed offset) and every partition it reads is at most ``max_lag`` records behind
    the end of its log.

    Fields are replaced whole by the stage's event loop and read by the endpoints' thread."""

    def __init__(self, process: str, max_lag: int) -> None:
        self.process = process
        self.max_lag = max_lag
        self.watch = LoopWatch()
        self.started = False
        self.lags: dict[str, int | None] = {}

    def live(self) -> Health:
        return self.watch.health()

    def observe(self, topic: str, partition: int, *, end: int | None, position: int,
                last_timestamp: float | None) -> None:
        """Record one partition's lag (``end`` None: the end of the log is not known yet)."""
        lag = record_lag(self.process, topic, partition, end=end, position=position,
                         last_timestamp=last_timestamp)
        self.lags = {**self.lags, f"{topic}/{partition}": lag}
        READY.labels(self.process).set(1 if self.ready().ok else 0)

    def ready(self) -> Health:
        if not self.started:
            return Health(False, {"reason": "starting: rebuilding its state or joining"})
        lags = self.lags
        detail: dict[str, Any] = {"partitions": dict(sorted(lags.items())),
                                  "max_lag": self.max_lag}
        if not lags or any(lag is None for lag in lags.values()):
            return Health(False, {**detail, "reason": "the end of its log is not known yet"})
        behind = {name: lag for name, lag in lags.items()
                  if lag is not None and lag > self.max_lag}
        if behind:
            return Health(False, {**detail, "reason": "behind the end of its log"})
        return Health(True, detail)


class Probe(Protocol):
    """What the operations endpoints of a process ask."""

    process: str

    def live(self) -> Health: ...

    def ready(self) -> Health: ...


class JoinedProbe:
    """The probes of the stages one process runs (extract stripes), answered on one port:
    live and ready when every one is."""

    def __init__(self, probes: list[StageProbe]) -> None:
        self.process = "+".join(probe.process for probe in probes)
        self.probes = probes

    def live(self) -> Health:
        return _all({probe.process: probe.live() for probe in self.probes})

    def ready(self) -> Health:
        return _all({probe.process: probe.ready() for probe in self.probes})


def _all(healths: dict[str, Health]) -> Health:
    return Health(all(health.ok for health in healths.values()),
                  {process: health.detail for process, health in healths.items()})


def stage_port(settings: Settings, index: int) -> int:
    """The operations port of stage process ``index`` (0: the fold, 1 + i: extract stripe
    i); 0 when the endpoints are off. A process set to one port (a container per stage)
    listens there, whatever its stage."""
    if settings.stage_metrics_port:
        return settings.stage_metrics_port
    base = settings.worker_metrics_port
    return 0 if base == 0 else base + index


def start_stage_operations(settings: Settings, probe: Probe, index: int
                           ) -> OperationsServer | None:
    port = stage_port(settings, index)
    if port == 0:
        return None
    return start_operations(settings.metrics_host, port, process=probe.process,
                            live=probe.live, ready=probe.ready)
