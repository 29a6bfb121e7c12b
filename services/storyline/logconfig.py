"""structlog configuration: JSON lines on stderr, with story_id / article_id / offset bound
by the callers through ``structlog.contextvars``."""

from __future__ import annotations

import json
import logging
import sys

import structlog

from storyline import outages

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


class _StderrLogger:
    """Writes each line to whatever ``sys.stderr`` is at that moment. structlog's
    PrintLogger keeps the stream it was given, so a process that swaps stderr (a test
    runner capturing output, a daemon redirecting it) would go on writing to a closed one."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


class _StdlibJson(logging.Formatter):
    """Records of libraries (aiokafka, uvicorn's errors) as the same JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {"event": record.getMessage(), "logger": record.name,
                                     "level": record.levelname.lower(),
                                     "timestamp": self.formatTime(record)}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json.dumps(fields, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler on whatever sys.stderr is when it writes (see _StderrLogger)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)
        super().emit(record)


class _RetriedFetch(logging.Filter):
    """aiokafka's fetcher logs a failed fetch at ERROR ("Failed fetch offsets from 1:
    NotLeaderForPartitionError") and tries again after its backoff. While a broker restarts
    or a leader moves that is expected and heals alone: a warning, not an error an operator
    (or the chaos runs, which fail on any error line) must act on. A failure Kafka does not
    call retriable (an authorisation error) stays an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and isinstance(record.args, tuple) and record.args:
            from aiokafka.errors import KafkaError

            cause = record.args[-1]
            if isinstance(cause, KafkaError) and cause.retriable:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_RETRIED_FETCH = _RetriedFetch()


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            outages.structlog_processor,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    if fmt == "json" and not root.handlers:
        # without a handler Python prints library warnings bare, with no level or time
        handler = _StderrHandler()
        handler.setFormatter(_StdlibJson())
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    if _RETRIED_FETCH not in fetcher.filters:
        fetcher.addFilter(_RETRIED_FETCH)
