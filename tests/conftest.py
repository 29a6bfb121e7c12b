"""Suite-wide test set-up.

structlog caches a logger's configuration at its first use when configured with
``cache_logger_on_first_use`` (what ``storyline.logconfig`` does, for speed). A test that runs
a command configures logging; a later test's ``structlog.testing.capture_logs`` then cannot
see loggers cached meanwhile, and finds nothing: whether a log assertion passed depended on
test order. In tests, loggers are never cached.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog

_configure = structlog.configure


def _configure_uncached(*args: Any, **kwargs: Any) -> None:
    kwargs["cache_logger_on_first_use"] = False
    _configure(*args, **kwargs)


structlog.configure = _configure_uncached


@pytest.fixture(autouse=True)
def _logging_configuration_restored() -> Iterator[None]:
    """structlog's configuration as it was before each test. A test that runs a command with
    ``STORYLINE_LOG_LEVEL=warning`` left logging filtered at that level for the tests after it
    in the same process: a later ``capture_logs`` (which replaces the processors only) saw
    the warnings but no INFO event (``test_snapshots``' prune test after ``test_ingest_cli``:
    a failure that came and went with how the files were spread over the workers)."""
    saved = structlog.get_config()
    yield
    _configure(**saved)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """The order the files are handed to the xdist workers (``--dist loadfile
    --no-loadscope-reorder``, scripts/test.sh): the chaos and end-to-end files first (the
    longest), then the integration files (which mostly wait on processes and the broker)
    spread over the first 60 % of the unit files (mostly CPU), so that a worker waiting on
    a broker runs beside one computing rather than all of them waiting at once and then all
    computing; the rest of the unit files (many of them short) last, which evens out the
    workers' ends. Each file's tests stay together and in their order (module fixtures)."""
    files: dict[str, list[Any]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    first = [f for f in files if f.startswith(("tests/chaos/", "tests/e2e/"))]
    waits = [f for f in files if f.startswith("tests/integration/")]
    rest = [f for f in files if f not in first and f not in waits]
    if not waits or not rest:
        return
    spread = max(1, int(len(rest) * 0.6))
    order = list(first)
    placed = 0
    for i, name in enumerate(rest):
        # the integration files due by this point of the spread
        due = len(waits) if i >= spread else (len(waits) * i) // spread
        order += waits[placed:due]
        placed = max(placed, due)
        order.append(name)
    order += waits[placed:]
    items[:] = [item for name in order for item in files[name]]
