"""scripts/demo.sh's messages, against a fake `storyline` that says what a broker would: a
topic that differs (topics apply exit 2) is not "could not be created", the pipeline check
runs before topics apply, and the broker's log is looked for under $STORYLINE_DATA_DIR."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE = """#!/usr/bin/env bash
echo "$*" >> "$CALLS"
case "$*" in
  "kafka up") exit "${KAFKA_UP:-0}" ;;
  "status") echo "storyline.articles does not exist"; exit 1 ;;
  "topics apply") echo "DIFFERS storyline.dead-letters: config retention.ms declared \
2592000000, actual 604800000"; exit "${TOPICS:-0}" ;;
  *) exit 0 ;;
esac
"""


def demo(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "demo.sh", checkout / "scripts" / "demo.sh")
    fake = checkout / ".venv" / "bin" / "storyline"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    calls = tmp_path / "calls"
    done = subprocess.run(["bash", str(checkout / "scripts" / "demo.sh")],
                          env={"PATH": os.environ["PATH"], "CALLS": str(calls), **env},
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    return done, calls.read_text().splitlines()


def test_a_topic_that_differs_is_not_a_topic_that_could_not_be_created(
        tmp_path: Path) -> None:
    done, calls = demo(tmp_path, TOPICS="2", STORYLINE_DATA_DIR=str(tmp_path / "data"))
    assert done.returncode == 1
    assert calls == ["kafka up", "status", "topics apply"]  # the pipeline check first
    assert "DIFFERS storyline.dead-letters" in done.stdout
    assert done.stderr.strip() == (
        "make demo FAILED: a topic differs from deploy/topics.toml (the DIFFERS lines above; "
        "nothing was changed): alter it by hand, or start the demo afresh: bash "
        f"scripts/stop.sh, delete {tmp_path / 'data'}, then run the demo again")


def test_make_clean_is_named_for_the_default_data_dir(tmp_path: Path) -> None:
    done, _ = demo(tmp_path, TOPICS="2")
    assert done.stderr.strip().endswith(
        "start the demo afresh: `make clean` (stops everything, deletes var/ and out/), "
        "then `make demo`")


def test_topics_that_could_not_be_created(tmp_path: Path) -> None:
    done, _ = demo(tmp_path, TOPICS="1")
    assert done.stderr.strip() == (
        "make demo FAILED: the topics could not be created (exit 1)")


def test_the_broker_log_is_under_the_data_dir(tmp_path: Path) -> None:
    done, calls = demo(tmp_path, KAFKA_UP="1", STORYLINE_DATA_DIR=str(tmp_path / "data"))
    assert calls == ["kafka up"]
    assert done.stderr.strip() == (
        "make demo FAILED: the Kafka broker did not start (see "
        f"{tmp_path / 'data'}/kafka/ for its log)")
