"""Library log lines in the JSON logs: aiokafka's fetcher says ERROR for a failed fetch it
then retries; a retriable one (a leader moving while a broker restarts) is a warning."""

from __future__ import annotations

import logging

from aiokafka.errors import NotLeaderForPartitionError, TopicAuthorizationFailedError

from storyline.logconfig import _RetriedFetch, configure_logging

FETCHER = "aiokafka.consumer.fetcher"


def filtered(cause: Exception) -> logging.LogRecord:
    """The fetcher's record of a failed fetch as the filters that configure_logging put on
    its logger leave it (the record itself, not what reaches a handler: other tests' logging
    set-ups in the same process may keep records from the handlers)."""
    configure_logging("info", "json")
    record = logging.LogRecord(FETCHER, logging.ERROR, __file__, 1,
                               "Failed fetch offsets from %s: %s", (1, cause), None)
    logger = logging.getLogger(FETCHER)
    ours = [f for f in logger.filters if isinstance(f, _RetriedFetch)]
    assert ours and all(f.filter(record) for f in ours)
    return record


def test_a_retried_fetch_is_a_warning() -> None:
    # the chaos runs fail on any error line: one of these after a broker bounce failed a
    # stages-ci run that lost nothing
    record = filtered(NotLeaderForPartitionError())
    assert record.levelname == "WARNING" and record.levelno == logging.WARNING
    assert record.getMessage().startswith("Failed fetch offsets from 1")


def test_a_fetch_failure_kafka_does_not_retry_stays_an_error() -> None:
    assert filtered(TopicAuthorizationFailedError()).levelname == "ERROR"


def test_the_filter_is_put_on_once() -> None:
    configure_logging("info", "json")
    configure_logging("info", "json")
    assert sum(isinstance(f, _RetriedFetch) for f in logging.getLogger(FETCHER).filters) == 1
