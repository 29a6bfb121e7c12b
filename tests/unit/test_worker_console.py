"""The worker writes plain text when its stdout is a file (worker.log), not terminal codes.

faust's Worker draws a progress spinner on stdout: it hides the cursor (ESC [?25l),
backspaces over itself and shows the cursor again, at exit too, whether or not stdout is a
terminal. ``run_worker`` drops the spinner unless stdout is a TTY. These tests build the
real faust Worker through ``run_worker`` (only ``execute_from_commandline`` is replaced, so
no broker is needed), then drive what a run does to the console: set up logging, log, and
finish starting.
"""

from __future__ import annotations

import atexit
import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.utils.terminal.spinners import Spinner

from storyline.settings import Settings
from storyline.stream.worker import create_app, run_worker

ESCAPES = ("\x1b", "\b")


@pytest.fixture()
def root_logging() -> Iterator[None]:
    """mode's logging setup replaces the root handlers: give pytest its own back."""
    handlers, level = logging.root.handlers[:], logging.root.level
    try:
        yield
    finally:
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)
        atexit.unregister(Spinner._finish)


def built_worker(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Any:
    built: list[Any] = []

    def execute_from_commandline(self: Any) -> None:
        built.append(self)

    monkeypatch.setattr(faust.Worker, "execute_from_commandline", execute_from_commandline)
    run_worker(settings)
    [worker] = built
    return worker


def start_like_a_run(worker: Any) -> None:
    worker._setup_logging()  # mode: root handler on stdout, then on_setup_root_logger
    logging.getLogger("storyline.probe").warning("partition assigned")
    worker._on_startup_end_spinner()
    sys.stdout.flush()
    sys.stderr.flush()


def test_a_log_file_gets_no_escape_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         root_logging: None) -> None:
    log = tmp_path / "worker.log"
    with log.open("w") as stdout:  # as the worker is started: 2>&1 >> worker.log
        monkeypatch.setattr(sys, "stdout", stdout)
        monkeypatch.setattr(sys, "stderr", stdout)
        worker = built_worker(monkeypatch, Settings(data_dir=tmp_path))
        assert worker.stdout is stdout and worker.spinner is None
        start_like_a_run(worker)
    text = log.read_text()
    assert "partition assigned" in text
    assert not any(code in text for code in ESCAPES), repr(text)


def test_without_the_fix_faust_would_write_them(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                root_logging: None) -> None:
    """The control: faust's own defaults put the codes into a file."""
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stdout)
    worker = faust.Worker(create_app(Settings(data_dir=tmp_path)), loglevel="warning",
                          quiet=True, redirect_stdouts=False, stdout=stdout, stderr=stdout)
    start_like_a_run(worker)
    assert "\x1b[?25l" in stdout.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_keeps_the_spinner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", Terminal())
    worker = built_worker(monkeypatch, Settings(data_dir=tmp_path))
    assert worker.spinner is not None
