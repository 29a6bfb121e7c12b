"""Library log lines in the JSON logs: aiokafka's fetcher says ERROR for a failed fetch it
then retries; a retriable one (a leader moving while a broker restarts) is a warning."""

from __future__ import annotations

import logging

from aiokafka.errors import NotLeaderForPartitionError, TopicAuthorizationFailedError

from storyline.logconfig import configure_logging


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def fetcher_record(cause: Exception) -> logging.LogRecord:
    """The record the fetcher's logger hands its handlers (a handler of its own: another
    test's logging set-up may have disabled the logger or its propagation, as uvicorn's
    dictConfig does to the loggers that exist when it runs)."""
    configure_logging("info", "json")
    logger = logging.getLogger("aiokafka.consumer.fetcher")
    kept = _Kept()
    saved = (logger.disabled, logger.level, logger.propagate)
    logger.disabled, logger.propagate = False, False
    logger.setLevel(logging.INFO)
    logger.addHandler(kept)
    try:
        logger.error("Failed fetch offsets from %s: %s", 1, cause)
    finally:
        logger.removeHandler(kept)
        logger.disabled, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])
    (record,) = kept.records
    return record


def test_a_retried_fetch_is_a_warning() -> None:
    # the chaos runs fail on any error line: one of these after a broker bounce failed a
    # stages-ci run that lost nothing
    record = fetcher_record(NotLeaderForPartitionError())
    assert record.levelname == "WARNING" and record.levelno == logging.WARNING
    assert record.getMessage().startswith("Failed fetch offsets from 1")


def test_a_fetch_failure_kafka_does_not_retry_stays_an_error() -> None:
    assert fetcher_record(TopicAuthorizationFailedError()).levelname == "ERROR"
