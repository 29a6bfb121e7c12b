"""The shell scripts run Python one-liners against the package (``scripts/setup.sh`` warms
the compiled kernels): every ``from storyline... import name`` in them must resolve, or a
fresh clone's set-up breaks while an installed checkout, set up before a module moved,
goes on passing."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
_IMPORT = re.compile(r"from (storyline[\w.]*) import (\w+)")


def imports_in_scripts() -> list[tuple[str, str, str]]:
    return [(path.name, module, name) for path in sorted(SCRIPTS.glob("*.sh"))
            for module, name in _IMPORT.findall(path.read_text(encoding="utf-8"))]


def test_the_scripts_import_what_the_package_has() -> None:
    found = imports_in_scripts()
    assert any(name == "kernels" for _, _, name in found)  # setup.sh's warm-up is seen
    missing = []
    for script, module, name in found:
        imported = importlib.import_module(module)
        if not hasattr(imported, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ModuleNotFoundError:
                missing.append(f"{script}: from {module} import {name}")
    assert missing == []
