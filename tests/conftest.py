"""Suite-wide test set-up.

structlog caches a logger's configuration at its first use when configured with
``cache_logger_on_first_use`` (what ``storyline.logconfig`` does, for speed). A test that runs
a command configures logging; a later test's ``structlog.testing.capture_logs`` then cannot
see loggers cached meanwhile, and finds nothing: whether a log assertion passed depended on
test order. In tests, loggers are never cached.
"""

from __future__ import annotations

from typing import Any

import structlog

_configure = structlog.configure


def _configure_uncached(*args: Any, **kwargs: Any) -> None:
    kwargs["cache_logger_on_first_use"] = False
    _configure(*args, **kwargs)


structlog.configure = _configure_uncached
