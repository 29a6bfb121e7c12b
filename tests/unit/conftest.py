"""Unit-test set-up: the session's folder of extracted dev facts (dev_facts.py)."""

from __future__ import annotations

import os

import dev_facts
import pytest


@pytest.fixture(scope="session", autouse=True)
def _dev_facts_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One folder for the whole run: with xdist, beside the workers' own base temp
    directories (their common parent is this run's), so every worker reads what another
    extracted."""
    base = tmp_path_factory.getbasetemp()
    dev_facts.shared_dir = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
                            ) / "dev-facts"
