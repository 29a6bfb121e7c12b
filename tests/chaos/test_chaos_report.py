"""The chaos report's own checks, without a broker: an error logged by any incarnation of
the worker fails the run even when every revision is right."""

from __future__ import annotations

import json
from pathlib import Path

from chaos_harness import ChaosReport, Supervisor


def _line(level: str, event: str) -> str:
    return json.dumps({"event": event, "level": level, "timestamp": "2026-12-05T08:55:58Z"})


def test_errors_logged_by_any_incarnation_are_counted_and_fail_the_run(
        tmp_path: Path) -> None:
    supervisor = Supervisor({}, tmp_path)
    supervisor.incarnation = 2
    supervisor.log_of(1).write_text("\n".join([
        _line("info", "snapshot_started"), _line("warning", "operations_endpoints_unavailable"),
        "a line that is not JSON"]) + "\n")
    supervisor.log_of(2).write_text("\n".join([
        _line("error", "snapshot_failed"), _line("info", "snapshot_started"),
        _line("error", "snapshot_failed"), "stage fold: " + _line("critical", "fold_crashed"),
    ]) + "\n")
    found = supervisor.error_events()
    assert found == {"fold_crashed": 1, "snapshot_failed": 2}
    clean = ChaosReport("ci", 7, kills=3, verify_ok=True)
    assert clean.ok
    assert not ChaosReport("ci", 7, kills=3, verify_ok=True, error_events=found).ok
