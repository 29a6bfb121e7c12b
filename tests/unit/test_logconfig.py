"""Library log lines in the JSON logs: aiokafka's fetcher says ERROR for a failed fetch it
then retries; a retriable one (a leader moving while a broker restarts) is a warning."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import NotLeaderForPartitionError, TopicAuthorizationFailedError

from storyline.logconfig import configure_logging


def fetcher_record(cause: Exception, caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    configure_logging("info", "json")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="aiokafka.consumer.fetcher"):
        logging.getLogger("aiokafka.consumer.fetcher").error(
            "Failed fetch offsets from %s: %s", 1, cause)
    (record,) = caplog.records
    return record


def test_a_retried_fetch_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # the chaos runs fail on any error line: one of these after a broker bounce failed a
    # stages-ci run that lost nothing
    record = fetcher_record(NotLeaderForPartitionError(), caplog)
    assert record.levelname == "WARNING" and record.levelno == logging.WARNING
    assert record.getMessage().startswith("Failed fetch offsets from 1")


def test_a_fetch_failure_kafka_does_not_retry_stays_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    assert fetcher_record(TopicAuthorizationFailedError(), caplog).levelname == "ERROR"
