"""`storyline --help` and every sub-command's help read as plain text in a terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storyline.cli import COMMANDS, main, plain

SERVICES = Path(__file__).resolve().parents[2] / "services"
MARKUP = re.compile(r"``|:[a-z]+:`|`[^`\s][^`]*`")
NESTED = [["kafka", "up"], ["kafka", "status"], ["topics", "apply"], ["story", "show"],
          ["story", "list"], ["eval", "timeline"], ["eval", "clustering"], ["keys", "new"]]


def help_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_plain_strips_restructuredtext() -> None:
    assert plain("The ``storyline`` command") == "The storyline command"
    assert plain("see :mod:`storyline.read` and `x`") == "see storyline.read and x"
    assert plain("no markup; don't touch it") == "no markup; don't touch it"


@pytest.mark.parametrize("argv", [[], *[[name] for name in COMMANDS], *NESTED],
                         ids=lambda argv: " ".join(argv) or "storyline")
def test_help_has_no_markup(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(argv, capsys)
    assert text.startswith("usage: storyline")
    assert "``" not in text
    assert MARKUP.search(text) is None, text


def test_top_level_help_as_a_user_runs_it() -> None:
    env = {**os.environ, "PYTHONPATH": str(SERVICES)}
    done = subprocess.run([sys.executable, "-m", "storyline.cli", "--help"], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert "The storyline command: one sub-command per operator task." in done.stdout
    assert "``" not in done.stdout


ROOT = Path(__file__).resolve().parents[2]


def test_the_topic_table_of_the_docs_is_the_declared_topics() -> None:
    """docs/kafka.md listed two faust changelogs nothing declares and missed four topics."""
    from storyline.kafka.topics import load_topics

    declared = {spec.name: spec.partitions
                for spec in load_topics(ROOT / "deploy" / "topics.toml")}
    docs = (ROOT / "docs" / "kafka.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `(storyline[^`]*)` \| (\d+) \|", docs, re.MULTILINE))
    assert {name: int(count) for name, count in table.items()} == declared


def test_the_worker_help_names_the_staged_worker(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_text([], capsys).split())
    assert ("worker run the staged streaming worker over the articles (--single: faust, in "
            "one process)") in text


def test_the_eval_help_names_every_evaluation() -> None:
    from storyline.evaluation.eval_cli import EVALUATIONS

    summary = COMMANDS["eval"][1]
    for name in EVALUATIONS:
        assert name.replace("-", " ") in summary, name


def test_kafka_data_dir_default_follows_storyline_data_dir(
        capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_text(["kafka", "up"], capsys).split())
    assert "default $STORYLINE_DATA_DIR/kafka/broker, var/kafka/broker when that is unset" in text
