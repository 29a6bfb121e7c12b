"""LocalBroker pieces that need no JVM: configuration, error messages, pid checks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from storyline.kafka.broker import (
    DEFAULT_DEPLOY_DIR,
    BrokerConfig,
    BrokerError,
    LocalBroker,
    fetch_jars,
    find_java,
)


def test_flags_override_env_and_controller_port_follows_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STORYLINE_KAFKA_PORT", "29092")
    monkeypatch.setenv("STORYLINE_KAFKA_HEAP", "384m")
    from_env = BrokerConfig.from_env()
    assert (from_env.port, from_env.controller_port, from_env.heap) == (29092, 29093, "384m")
    assert from_env.bootstrap == "127.0.0.1:29092"

    flagged = BrokerConfig.from_env(port=39092, data_dir=tmp_path / "d", heap=None)
    assert (flagged.port, flagged.controller_port, flagged.heap) == (39092, 39093, "384m")
    assert flagged.data_dir == (tmp_path / "d").resolve()
    assert flagged.pid_file.parent == flagged.data_dir


def test_rendered_properties_use_the_configured_endpoints(tmp_path: Path) -> None:
    config = BrokerConfig.from_env(port=31000, controller_port=31005, data_dir=tmp_path / "b")
    LocalBroker(config)._write_properties()
    lines = dict(
        line.split("=", 1)
        for line in config.properties_file.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert lines["listeners"] == "PLAINTEXT://127.0.0.1:31000,CONTROLLER://127.0.0.1:31005"
    assert lines["controller.quorum.voters"] == "1@127.0.0.1:31005"
    assert lines["log.dirs"] == str(config.log_dirs)
    assert lines["transaction.state.log.min.isr"] == "1"


def test_missing_java_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="Java was not found"):
        find_java()


def test_missing_maven_without_jars_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="Maven"):
        fetch_jars(DEFAULT_DEPLOY_DIR, tmp_path / "libs")
    assert not (tmp_path / "libs").exists()


def test_jars_with_a_matching_stamp_are_not_fetched_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import hashlib

    libs = tmp_path / "libs"
    libs.mkdir()
    digest = hashlib.sha256((DEFAULT_DEPLOY_DIR / "pom.xml").read_bytes()).hexdigest()
    (libs / ".pom-sha256").write_text(digest + "\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn: a fetch attempt would raise
    assert fetch_jars(DEFAULT_DEPLOY_DIR, libs) is False
    (libs / ".pom-sha256").write_text("stale\n")
    with pytest.raises(BrokerError, match="Maven"):
        fetch_jars(DEFAULT_DEPLOY_DIR, libs)


def test_a_pid_file_naming_another_process_is_not_trusted(tmp_path: Path) -> None:
    config = BrokerConfig.from_env(port=31010, data_dir=tmp_path / "b")
    config.data_dir.mkdir(parents=True)
    broker = LocalBroker(config)
    config.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a Kafka JVM
    assert broker.pid() is None
    status = broker.status()
    assert not status.running and status.describe().startswith("stopped")
    assert broker.stop() is None and not config.pid_file.exists()


def test_relative_folders_get_the_jars_where_they_are_asked_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Maven resolves a relative -DoutputDirectory against the pom's folder: a relative
    libs folder once got only the stamp while the jars went under deploy/kafka/."""
    import shutil

    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir()
    (work / "deploy").mkdir(parents=True)
    shutil.copy(DEFAULT_DEPLOY_DIR / "pom.xml", work / "deploy" / "pom.xml")
    fake_mvn = bin_dir / "mvn"
    # writes one jar where Maven would: -DoutputDirectory, relative to the pom's folder
    fake_mvn.write_text(
        "#!/bin/sh\npom=''; out=''\n"
        "while [ $# -gt 0 ]; do case \"$1\" in -f) pom=\"$2\"; shift;; "
        "-DoutputDirectory=*) out=\"${1#-DoutputDirectory=}\";; esac; shift; done\n"
        "case \"$out\" in /*) ;; *) out=\"$(dirname \"$pom\")/$out\";; esac\n"
        "mkdir -p \"$out\" && touch \"$out/kafka-clients.jar\"\n")
    fake_mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(work)
    assert fetch_jars(Path("deploy"), Path("var/kafka/libs")) is True
    assert (work / "var/kafka/libs/kafka-clients.jar").exists()
    assert not (work / "deploy/var").exists()


def test_a_broker_running_on_another_port_is_named_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`kafka up --port 9999` (or status) while the data dir's broker runs on 9092 waited out
    the start timeout, then reported a failure; now it says where the broker is, exit 1."""
    from storyline import cli

    data_dir = tmp_path / "b"
    data_dir.mkdir()
    (data_dir / "server.properties").write_text(
        "node.id=1\nlisteners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n")
    monkeypatch.setattr(LocalBroker, "pid", lambda self: 4242)
    for action in ("up", "status"):
        began = time.monotonic()
        code = cli.main(["kafka", action, "--port", "9999", "--data-dir", str(data_dir),
                         "--timeout" if action == "up" else "--host",
                         "60" if action == "up" else "127.0.0.1"])
        assert code == 1 and time.monotonic() - began < 5
        assert capsys.readouterr().err == (
            f"storyline kafka {action}: the broker of {data_dir} (pid 4242) is running on "
            "127.0.0.1:9092, not 127.0.0.1:9999; `storyline kafka down` first to move it\n")
    assert LocalBroker(BrokerConfig.from_env(port=9092, data_dir=data_dir)).listening_on() == (
        "127.0.0.1", 9092)
