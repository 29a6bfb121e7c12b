"""Errors an operator, not the program, must fix: ``storyline`` (cli.main) prints them as one
line and exits 1 (OperatorError) or 2 (ConfigurationError), never with a traceback."""

from __future__ import annotations


class OperatorError(Exception):
    """A command could not do its work for a reason outside the program (a topic missing or
    truncated, a log made again): its message says what to do."""


class ConfigurationError(Exception):
    """A setting (an environment variable, a flag) that cannot be used; its message never
    holds a secret."""


class TopicMissing(OperatorError):
    """A topic a command reads does not exist on the cluster."""

    def __init__(self, topic: str) -> None:
        super().__init__(missing_topic_message(topic))
        self.topic = topic


def missing_topic_message(topic: str) -> str:
    return (f"topic {topic} does not exist (is STORYLINE_TOPIC_PREFIX right? "
            "`storyline topics apply`)")
