"""`storyline topics apply` of a deployment beside another (docs/operations.md, "Upgrading the
pipeline"), on a real broker: the articles topic that STORYLINE_SOURCE_PREFIX names is the
other deployment's, so a missing one is a wrong prefix, reported (exit 1) with nothing
created.

Before, apply created it: an empty articles log (with the other deployment's prefix) that
the new deployment's worker folded at once and `storyline status` reported as "caught up:
... is empty, nothing to do", exit 0, the signal the upgrade procedure waits for before the
readers are moved over and the old deployment stopped. The easy way there: a second upgrade
that took the k8s overlay's word that the source prefix is the running deployment's
STORYLINE_TOPIC_PREFIX (it is its articles topic's prefix: its own SOURCE_PREFIX)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]


async def topics(bootstrap: str, prefix: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t for t in await admin.list_topics() if t.startswith(prefix)}
    finally:
        await admin.close()


def apply(env: dict[str, str], **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STORYLINE, "topics", "apply"], env={**env, **settings},
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


async def test_a_source_prefix_naming_no_articles_topic_creates_nothing(
    command_env: dict[str, str], topic_prefix: str,
) -> None:
    bootstrap = command_env["STORYLINE_BOOTSTRAP_SERVERS"]
    old, new, wrong = f"{topic_prefix}", f"{topic_prefix}next.", f"{topic_prefix}nowhere."
    assert apply(command_env, STORYLINE_TOPIC_PREFIX=old).returncode == 0
    made = await topics(bootstrap, topic_prefix)

    beside = apply(command_env, STORYLINE_TOPIC_PREFIX=new, STORYLINE_SOURCE_PREFIX=wrong)
    assert beside.returncode == 1, beside
    assert (f"the articles topic {wrong}storyline.articles does not exist, and nothing was "
            "created" in beside.stderr), beside
    assert "Traceback" not in beside.stderr
    assert await topics(bootstrap, topic_prefix) == made  # neither its own nor the articles
    # and status names the setting to check, not STORYLINE_TOPIC_PREFIX and a command that
    # would not make the topic
    status = subprocess.run([*STORYLINE, "status"], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, env={
                                **command_env, "STORYLINE_TOPIC_PREFIX": new,
                                "STORYLINE_SOURCE_PREFIX": wrong})
    assert status.returncode == 1, status
    assert (f"{wrong}storyline.articles does not exist (is STORYLINE_SOURCE_PREFIX right?"
            in status.stderr), status

    # the right one: the old deployment's articles topic, and topics of its own
    beside = apply(command_env, STORYLINE_TOPIC_PREFIX=new, STORYLINE_SOURCE_PREFIX=old)
    assert beside.returncode == 0, beside
    assert f"ok {old}storyline.articles" in beside.stdout
    assert f"{new}storyline.articles" not in await topics(bootstrap, topic_prefix)
    assert f"{new}storyline.story-updates" in await topics(bootstrap, topic_prefix)


async def test_the_prefix_flag_keeps_the_source_prefix(
    command_env: dict[str, str], topic_prefix: str,
) -> None:
    """`--prefix` stands for STORYLINE_TOPIC_PREFIX: with STORYLINE_SOURCE_PREFIX set, the
    articles topic is still the other deployment's (before, the flag made an empty articles
    topic under its own prefix, the fault the test above guards against)."""
    bootstrap = command_env["STORYLINE_BOOTSTRAP_SERVERS"]
    old, new, wrong = f"{topic_prefix}", f"{topic_prefix}flag.", f"{topic_prefix}nowhere."
    assert apply(command_env, STORYLINE_TOPIC_PREFIX=old).returncode == 0
    made = await topics(bootstrap, topic_prefix)

    def apply_with_flag(source: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*STORYLINE, "topics", "apply", "--prefix", new],
                              env={**command_env, "STORYLINE_TOPIC_PREFIX": old,
                                   "STORYLINE_SOURCE_PREFIX": source},
                              capture_output=True, text=True, timeout=120, cwd=ROOT)

    refused = apply_with_flag(wrong)
    assert refused.returncode == 1, refused
    assert f"the articles topic {wrong}storyline.articles does not exist" in refused.stderr
    assert await topics(bootstrap, topic_prefix) == made

    beside = apply_with_flag(old)
    assert beside.returncode == 0, beside
    assert f"ok {old}storyline.articles" in beside.stdout
    now = await topics(bootstrap, topic_prefix)
    assert f"{new}storyline.articles" not in now
    assert f"{new}storyline.story-updates" in now
