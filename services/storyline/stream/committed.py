"""A faust transport whose worker consumer reads the committed log only.

The articles log is what a ``read_committed`` reader sees: ``storyline replay``, the
stages' consumers and ``storyline status`` read it so. faust's aiokafka driver gives the
worker's consumer ``read_uncommitted`` unless the app runs exactly once (which this
project does not use: it has open duplicate and fencing bugs), so the single-process
worker folded the records of a producer's aborted or still open transaction, and made
revisions that replay never makes. This transport keeps faust's consumer as it is and
sets its isolation level before it starts (aiokafka reads it at ``start()``).
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

READ_COMMITTED = "read_committed"


class _CommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka keeps the constructor's argument here and hands it to its fetcher at
        # start(); tests/integration/test_transactional_articles.py checks the effect
        consumer._isolation_level = READ_COMMITTED
        return consumer


class _CommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _CommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class CommittedTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport, its worker consumer reading ``read_committed``."""

    Consumer = _CommittedConsumer


def read_committed(app: Any) -> None:
    """Give ``app`` (a faust.App, before it starts) the committed-log transport."""
    app.transport = CommittedTransport(app.conf.broker_consumer, app)
