"""Where every ``storyline eval`` writes what it found: one JSON line per predicted item and
``scores.json``, in the output folder it was given."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_results(out: Path, lines_name: str, lines: Iterable[dict[str, Any]],
                  scores: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / lines_name).open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    (out / "scores.json").write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
