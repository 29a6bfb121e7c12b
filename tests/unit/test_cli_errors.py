"""What an operator's mistake prints: one line on stderr and an exit status, never a Python
traceback, and never the value of a setting (a password would be one)."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from storyline import cli
from storyline.read.config import ReadSettings
from storyline.settings import Settings, bootstrap_problem
from storyline.stream.logreader import LogTruncated, truncated_message

SERVICES = Path(__file__).resolve().parents[2] / "services"
SECRET = "hunter2secret"


def storyline(argv: list[str], env: dict[str, str],
              tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``storyline ARGV`` as an operator runs it, in an environment of ``env`` alone."""
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SERVICES),
            "STORYLINE_DATA_DIR": str(tmp_path / "var"), **env}
    return subprocess.run([sys.executable, "-m", "storyline.cli", *argv], env=full,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_sasl_without_a_username_is_one_line_without_the_password(tmp_path: Path) -> None:
    done = storyline(["status"], {"STORYLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                                  "STORYLINE_KAFKA_SASL_PASSWORD": SECRET}, tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == ("storyline: STORYLINE_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs "
                           "STORYLINE_KAFKA_SASL_USERNAME and STORYLINE_KAFKA_SASL_PASSWORD\n")
    assert SECRET not in done.stdout + done.stderr


def test_no_setting_error_repeats_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """Every error of a settings model is printed without its input, whatever the field."""
    with pytest.raises(ValidationError) as refused:
        Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_password=SECRET,
                 kafka_ssl_key_password=SECRET, kafka_sasl_mechanism=SECRET)
    assert cli.operator_error("status", refused.value) == 2
    err = capsys.readouterr().err
    assert SECRET not in err
    assert err.splitlines() == [
        "storyline: STORYLINE_KAFKA_SASL_MECHANISM: Input should be 'PLAIN', 'SCRAM-SHA-256' "
        "or 'SCRAM-SHA-512'"]


def test_a_bad_port_of_the_broker_is_one_line(tmp_path: Path) -> None:
    done = storyline(["kafka", "status"], {"STORYLINE_KAFKA_PORT": "abc"}, tmp_path)
    assert (done.returncode, done.stderr) == (2, (
        "storyline: STORYLINE_KAFKA_PORT: Input should be a valid integer, unable to parse "
        "string as an integer\n"))


def test_a_bad_rate_limit_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        ReadSettings(rate_limit_get_per_client="fast")
    assert cli.operator_error("serve", refused.value) == 2
    assert capsys.readouterr().err == (
        "storyline: STORYLINE_RATE_LIMIT_GET_PER_CLIENT: rate limit 'fast': expected "
        "PER_SECOND[/BURST], e.g. 50/100 (0: no limit)\n")


def test_a_bad_api_key_entry_is_one_line_without_the_entry(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError) as refused:
        ReadSettings(api_keys=f"desk:sha256$zz${SECRET}").key_ring()
    assert cli.operator_error("serve", refused.value) == 2
    err = capsys.readouterr().err
    assert err.startswith("storyline: STORYLINE_API_KEYS entry 1 (desk): expected ")
    assert len(err.splitlines()) == 1 and SECRET not in err


def test_the_log_level_is_read_in_any_case() -> None:
    assert Settings(log_level="INFO").log_level == "info"
    assert Settings(log_level="Warning", log_format="CONSOLE").log_format == "console"


@pytest.mark.parametrize("servers", ["127.0.0.1:9092", "kafka", "a:1, b:2", "[::1]:9092",
                                     "::1", "[fe80::1]", "kafka:65535"])
def test_bootstrap_servers_the_clients_read(servers: str) -> None:
    assert Settings(bootstrap_servers=servers).bootstrap_servers == servers


@pytest.mark.parametrize(("server", "problem"), [
    ("kafka:9092x", "has no port number (0-65535) after its last colon"),
    ("kafka:70000", "has no port number (0-65535) after its last colon"),
    ("", "is empty"), (":9092", "has no host"), ("[::1", "is not [IPv6 ADDRESS]:PORT")])
def test_bootstrap_servers_the_clients_cannot_read(server: str, problem: str) -> None:
    assert bootstrap_problem(server) == problem


def test_a_bad_bootstrap_server_is_one_line(tmp_path: Path) -> None:
    done = storyline(["status"], {"STORYLINE_BOOTSTRAP_SERVERS": "kafka:9092x"}, tmp_path)
    assert (done.returncode, done.stderr) == (2, (
        "storyline: STORYLINE_BOOTSTRAP_SERVERS: 'kafka:9092x' has no port number (0-65535) "
        "after its last colon (HOST:PORT[,HOST:PORT...], an IPv6 address as "
        "[ADDRESS]:PORT)\n"))


@pytest.mark.parametrize("argv", [["story", "list"], ["story", "show", "story-x"],
                                  ["story", "explain", "urn:x"], ["replay", "--verify"]])
def test_no_broker_is_one_line(argv: list[str], tmp_path: Path) -> None:
    done = storyline(argv, {"STORYLINE_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"storyline {argv[0]}: KafkaConnectionError: Unable to bootstrap from "
        "[('127.0.0.1', 1, <AddressFamily.AF_INET: 2>)]")


def test_a_read_store_that_is_no_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.sqlite3").write_text("not a database " * 100)
    done = storyline(["projector", "--until-caught-up", "--database",
                      str(tmp_path / "bad.sqlite3")],
                     {"STORYLINE_PROJECTOR_METRICS_PORT": "0"}, tmp_path)
    assert (done.returncode, done.stderr) == (
        1, "storyline projector: DatabaseError: file is not a database\n")


def test_a_read_store_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = storyline(["projector", "--until-caught-up", "--database",
                      str(tmp_path / "file" / "x.sqlite3")],
                     {"STORYLINE_PROJECTOR_METRICS_PORT": "0"}, tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("storyline projector: ")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def _run_raising(exc: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(args: argparse.Namespace) -> int:
        raise exc
    monkeypatch.setattr("storyline.commands.story.run", run)


def test_a_truncated_log_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    message = truncated_message("t.story-updates", 0, 0, 5)
    _run_raising(LogTruncated(message), monkeypatch)
    assert cli.main(["story", "explain", "urn:x"]) == 1
    assert capsys.readouterr().err == f"storyline story: {message}\n"
    assert "storyline topics plan" not in message  # no such command
    assert "`storyline topics apply --dry-run` shows a topic that differs" in message


def test_the_articles_topic_check_names_a_command_that_exists(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    from types import SimpleNamespace
    from typing import Any

    import structlog

    from storyline.kafka import admin, articles_log

    @contextlib.asynccontextmanager
    async def client(bootstrap: str, timeout_ms: int) -> Any:
        yield None

    async def describe(client: Any, topics: list[str]) -> dict[str, Any]:
        return {"t": SimpleNamespace(configs={"retention.ms": "604800000"})}

    monkeypatch.setattr(admin, "admin_client", client)
    monkeypatch.setattr(admin, "describe_topics", describe)
    with structlog.testing.capture_logs() as logs:
        assert asyncio.run(articles_log.warn_if_the_log_loses_records("b:1", "t"))
    assert logs[0]["fix"].endswith(
        "(deploy/topics.toml; `storyline topics apply --dry-run` lists what differs)")


def test_ctrl_c_is_quiet(monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    _run_raising(KeyboardInterrupt(), monkeypatch)
    assert cli.main(["story", "list"]) == 130
    assert capsys.readouterr() == ("", "")


def test_a_fault_of_the_program_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    _run_raising(ZeroDivisionError("a bug"), monkeypatch)
    with pytest.raises(ZeroDivisionError):
        cli.main(["story", "list"])


@pytest.mark.parametrize("argv", [["serve", "--port", "70000"], ["serve", "--port", "-1"],
                                  ["kafka", "up", "--port", "65536"],
                                  ["kafka", "status", "--controller-port", "99999"],
                                  ["worker", "--single", "--web-port", "70000"]])
def test_a_port_out_of_range_is_refused(argv: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        cli.main(argv)
    assert refused.value.code == 2
    flag, number = argv[-2:]
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        f"argument {flag}: {int(number)} is no port (0-65535)")


def test_a_port_in_range_is_taken() -> None:
    assert [cli.port_number(text) for text in ("0", "8000", "65535")] == [0, 8000, 65535]
