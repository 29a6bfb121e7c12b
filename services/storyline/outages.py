"""Quiet under faults: a broker outage is three kinds of log line, not thousands.

Without this, a 30 s outage fills a log: aiokafka logs "Unable connect to node" at ERROR
for every connection attempt, faust adds its own warnings, and the worker's commit timer
and publish retries log one warning each. With it, each process logs:

- ``kafka.unreachable`` (WARNING) once, when the first connection failure is seen, with it;
- ``kafka.still_unreachable`` (WARNING) at most every ``reminder_seconds``
  (``STORYLINE_OUTAGE_REMINDER_SECONDS``, 60), with how long and how many lines were held
  back, by source;
- ``kafka.reachable`` (WARNING, so a log read at WARNING shows both ends) once, when the
  outage ends, with its duration and the count of lines held back;
- ``kafka.settled`` (INFO) ``settle_seconds`` (``STORYLINE_OUTAGE_SETTLE_SECONDS``, 30)
  later, if the reconnection's aftermath was held back meanwhile: after a broker restart
  the group coordinator takes a moment to load, so heartbeats fail, the coordinator is
  marked dead and found again, a session may have expired and the group rebalances, each
  a WARNING of aiokafka's. Those lines are the outage's tail, held back and counted like
  it; a broker that goes down again while settling still fails after it, and that starts
  a new outage.

How: :class:`OutageTracker` is fed by a stdlib :class:`logging.Filter` on the aiokafka,
faust and mode loggers and by a structlog processor for Storyline's own retry lines
(``OUTAGE_EVENTS``). A line that names a connection failure starts an outage; while one
lasts, every WARNING+ line of those sources is held back (counted), but for an ERROR+ line
whose exception is neither a Kafka client's nor a socket's: a crash of the code the client
runs (a faust agent's), which the outage does not explain. The end is decided by
a probe thread: a TCP connection to a bootstrap server succeeds and no failure has been
logged for ``quiet_seconds`` (a broker that is listening but not ready yet still fails,
and so still counts as down). The counter ``storyline_kafka_outages_total`` counts
outages.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

from storyline.metrics import KAFKA_OUTAGES

log = structlog.get_logger("storyline.outages")

#: Loggers whose WARNING+ lines an outage holds back.
KAFKA_LOGGERS = ("aiokafka", "faust", "mode", "kafka")
#: Storyline's own lines that retry something on the broker.
OUTAGE_EVENTS = frozenset({"commit_failed", "publish_retry", "projector.crashed",
                           "projector.dead_letter_failed", "api.produce_failed",
                           # the stage processes' (storyline.stream.reconnect, extract_stage,
                           # fold_stage)
                           "kafka_retry", "facts_send_failed", "rebuild_read_retry"})
#: What a line says when it is about the broker being unreachable.
CONNECTION_FAILURE = re.compile(
    r"Unable connect|Unable to (?:update|request) metadata|KafkaConnectionError|"
    r"NodeNotReady|Connect call failed|Connection refused|ConnectionRefused|"
    r"ConnectionResetError|Connection reset|Connection lost|connection to node|"
    r"CoordinatorNotAvailable|NotCoordinator|KafkaTimeoutError|RequestTimedOut|"
    r"not reachable|Failed fetch messages|Heartbeat session expired|"
    r"Unable to connect|Errno 111|Errno 104",
    re.IGNORECASE)


def _tcp_reachable(servers: list[tuple[str, int]]) -> bool:
    for host, port in servers:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            continue
    return False


def parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for server in bootstrap.split(","):
        server = server.strip().removeprefix("kafka://")
        if not server:
            continue
        host, _, port = server.rpartition(":")
        out.append((host.strip("[]") or "127.0.0.1", int(port or 9092)))
    return out


class OutageTracker:
    def __init__(self, bootstrap: str, *, reminder_seconds: float = 60.0,
                 quiet_seconds: float = 3.0, settle_seconds: float = 30.0,
                 probe_every: float | None = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 reachable: Callable[[], bool] | None = None) -> None:
        servers = parse_bootstrap(bootstrap)
        self.reminder_seconds = reminder_seconds
        self.quiet_seconds = quiet_seconds
        self.settle_seconds = settle_seconds
        self.settling_until = 0.0  # after an outage, its aftermath is held back until then
        self.settling: Counter[str] = Counter()
        self.probe_every = probe_every
        self.clock = clock
        self.reachable = reachable or (lambda: _tcp_reachable(servers))
        self._lock = threading.RLock()
        self.active = False
        self.started = 0.0
        self.last_failure = 0.0
        self.last_reminder = 0.0
        self.held: Counter[str] = Counter()
        self._prober: threading.Thread | None = None

    @property
    def holding(self) -> bool:
        """Whether Kafka client warnings are held back now (an outage or its aftermath)."""
        return self.active or self.clock() < self.settling_until

    def failure(self, source: str, detail: str) -> None:
        """A connection failure was about to be logged by ``source``."""
        with self._lock:
            now = self.clock()
            self.last_failure = now
            if not self.active and now < self.settling_until:
                self.settling[source] += 1  # the reconnection's aftermath
                return
            if not self.active:
                self.active, self.started, self.last_reminder = True, now, now
                self.held = Counter({source: 1})
                KAFKA_OUTAGES.inc()
                log.warning("kafka.unreachable", source=source, error=_short(detail),
                            detail="further connection errors are held back until it "
                            "is reachable again")
                watch_loggers()  # loggers created since start-up
                self._start_prober()
                return
            self.hold(source)

    def hold(self, source: str) -> None:
        """A line that an outage holds back (counted, maybe a reminder instead)."""
        with self._lock:
            if not self.active:
                self.settling[source] += 1
                return
            self.held[source] += 1
            self.remind()

    def remind(self) -> None:
        """The reminder, if one is due (also called by the probe thread, so a long outage
        is reminded of even when the clients have gone quiet)."""
        with self._lock:
            now = self.clock()
            if self.active and now - self.last_reminder >= self.reminder_seconds:
                self.last_reminder = now
                log.warning("kafka.still_unreachable", seconds=round(now - self.started),
                            held_back=sum(self.held.values()), by_source=dict(self.held))

    def check_recovered(self) -> bool:
        """End the outage if the broker answers and nothing has failed for a while."""
        with self._lock:
            if not self.active or self.clock() - self.last_failure < self.quiet_seconds:
                return False
        if not self.reachable():
            return False
        with self._lock:
            if not self.active or self.clock() - self.last_failure < self.quiet_seconds:
                return False
            self.active = False
            self.settling_until = self.clock() + self.settle_seconds
            self.settling = Counter()
            log.warning("kafka.reachable", seconds=round(self.clock() - self.started, 1),
                        held_back=sum(self.held.values()), by_source=dict(self.held))
            return True

    def check_settled(self) -> bool:
        """After the settling time, one INFO line with what its aftermath held back."""
        with self._lock:
            if self.active or self.settling_until == 0.0 or self.clock() < self.settling_until:
                return False
            self.settling_until = 0.0
            if self.settling:
                log.info("kafka.settled", seconds=self.settle_seconds,
                         held_back=sum(self.settling.values()), by_source=dict(self.settling))
            return True

    def _start_prober(self) -> None:
        """(With the lock held.) A thread that ends the outage and then its settling."""
        every = self.probe_every
        if every is None or self._prober is not None:
            return  # None: the caller runs check_recovered / check_settled itself

        def probe() -> None:
            while True:
                time.sleep(every)
                self.remind()
                self.check_recovered()
                self.check_settled()
                with self._lock:
                    if not self.active and self.settling_until == 0.0:
                        self._prober = None
                        return

        self._prober = threading.Thread(target=probe, name="kafka-outage-probe", daemon=True)
        self._prober.start()


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class OutageLogFilter(logging.Filter):
    """On the Kafka clients' loggers: hand connection failures to the tracker."""

    def __init__(self, tracker: OutageTracker) -> None:
        super().__init__("storyline-outages")
        self.tracker = tracker

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: let logging report it
            return True
        exception = record.exc_info[1] if record.exc_info else None
        if exception is not None:
            message += f" {type(exception).__name__}: {exception}"
        if self.tracker.holding and not CONNECTION_FAILURE.search(message):
            if _own_crash(record, exception):
                return True
            self.tracker.hold(record.name)
            return False
        if CONNECTION_FAILURE.search(message):
            self.tracker.failure(record.name, message)
            return False
        return True


def _own_crash(record: logging.LogRecord, exception: BaseException | None) -> bool:
    """An ERROR+ line carrying an exception that is not a Kafka client's or a socket's: a
    crash of the code the client runs (a faust agent's), which an outage does not explain
    and must not hold back (an agent that failed at every record during the start-up's
    brief outage was counted as its noise, and nothing said why nothing was folded)."""
    if exception is None or record.levelno < logging.ERROR:
        return False
    if isinstance(exception, OSError | TimeoutError):
        return False
    return not any(cls.__module__.split(".")[0] in KAFKA_LOGGERS
                   for cls in type(exception).__mro__)


_tracker: OutageTracker | None = None
_filter: OutageLogFilter | None = None


def tracker() -> OutageTracker | None:
    return _tracker


def outage_reason() -> str | None:
    """Why a Kafka consumer is not ready while an outage lasts (None: no outage)."""
    current = _tracker
    if current is None or not current.active:
        return None
    return f"Kafka unreachable for {round(current.clock() - current.started)} s"


def watch_loggers() -> None:
    """Put the filter on every Kafka client logger that exists now (a logger's filters see
    only records logged to it, not its children's)."""
    if _filter is None:
        return
    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".")[0] in KAFKA_LOGGERS]
    for name in ("aiokafka", "faust", "mode", *names):
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)


def install(bootstrap: str, *, reminder_seconds: float = 60.0,
            quiet_seconds: float = 3.0, settle_seconds: float = 30.0) -> OutageTracker:
    """Quiet outages in this process (call after the Kafka client modules are imported;
    loggers made later are picked up when an outage starts)."""
    global _tracker, _filter
    _tracker = OutageTracker(bootstrap, reminder_seconds=reminder_seconds,
                             quiet_seconds=quiet_seconds, settle_seconds=settle_seconds)
    _filter = OutageLogFilter(_tracker)
    import aiokafka  # noqa: F401 - its module loggers must exist to be watched

    watch_loggers()
    return _tracker


def structlog_processor(_logger: Any, method: str, event_dict: MutableMapping[str, Any]
                        ) -> MutableMapping[str, Any]:
    """Storyline's own retry lines (OUTAGE_EVENTS) during an outage: held back."""
    current = _tracker
    if current is None or method not in ("warning", "error", "critical", "exception"):
        return event_dict
    event = str(event_dict.get("event", ""))
    if event not in OUTAGE_EVENTS:
        return event_dict
    if current.holding:
        current.hold(event)
        raise structlog.DropEvent
    error = str(event_dict.get("error", ""))
    if CONNECTION_FAILURE.search(error):
        current.failure(event, error)
        raise structlog.DropEvent
    return event_dict
