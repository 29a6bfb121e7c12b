"""``Clusterer.place`` of this tree against another checkout's, in one process (issue #10).

On the 2 shared cores, two ``bench_place.py`` runs of the same code differ by 5-10 % (other
work beside them), more than most changes to ``place`` are worth. Here both codes run in one
process on the same state: the other checkout's ``services/storyline`` is copied as the
package ``storyline_base`` (its imports rewritten), each round unpickles ``bench_place.py``'s
state once for each side (which first alternating by round) and places the same articles
into both, one article at a time, who goes first alternating by article and by round, so
that both sides see the same load, the same caches and the same garbage collections.
Printed per round: CPU ms per article of each side (``time.process_time_ns`` around each
``place``), their ratio and whether the two sides' assignments are equal; then the ratio of
the sums over the rounds.

    PYTHONPATH=services .venv/bin/python benchmarks/bench_place_ab.py --base CHECKOUT \\
        --state /tmp/place-100000.pickle [--rounds 6] [--compiled]

``--state`` is ``bench_place.py``'s (make it with that script first); ``--compiled``: both
sides with their compiled kernels (numba), compiled or loaded before anything is timed.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import pickle
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_IMPORT = re.compile(r"^(\s*)(from|import) storyline(?=[.\s])", re.MULTILINE)


def _copy_as_base(checkout: Path, into: Path) -> None:
    """``checkout``'s package as ``storyline_base`` in ``into``, importing itself."""
    target = into / "storyline_base"
    shutil.copytree(checkout / "services" / "storyline", target)
    for path in target.rglob("*.py"):
        source = path.read_text()
        path.write_text(_IMPORT.sub(r"\1\2 storyline_base", source))


class _BaseUnpickler(pickle.Unpickler):
    """The state's classes from the base package."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "storyline" or module.startswith("storyline."):
            module = "storyline_base" + module[len("storyline"):]
        return super().find_class(module, name)


def _fields(assignment: Any) -> tuple[Any, ...]:
    return (assignment.story_id, assignment.is_new_story, assignment.duplicate_of,
            assignment.merged)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout")
    parser.add_argument("--state", type=Path, required=True, help="bench_place.py's state")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--compiled", action="store_true", help="both sides compiled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        _copy_as_base(args.base, Path(scratch))
        sys.path.insert(0, scratch)
        if args.compiled:
            for package in ("storyline", "storyline_base"):
                importlib.import_module(f"{package}.domain.assign.kernels").warm()
        state, features, _, _ = pickle.loads(args.state.read_bytes())
        clock = time.process_time_ns
        sides: dict[str, list[float]] = {"base": [], "branch": []}
        same_everywhere = True
        for run in range(args.rounds):
            # (which is unpickled first alternates too: it lies lower in memory)
            if run % 2:
                base = _BaseUnpickler(io.BytesIO(state)).load()
                branch = pickle.loads(state)
            else:
                branch = pickle.loads(state)
                base = _BaseUnpickler(io.BytesIO(state)).load()
            gc.collect()
            spent = {"base": 0, "branch": 0}
            out: dict[str, list[tuple[Any, ...]]] = {"base": [], "branch": []}
            for i, (uri, feature) in enumerate(features):
                order = (("branch", branch), ("base", base))
                for name, clusterer in order if (i + run) % 2 else order[::-1]:
                    start = clock()
                    assignment = clusterer.place(uri, feature)
                    spent[name] += clock() - start
                    out[name].append(_fields(assignment))
            same = out["base"] == out["branch"]
            same_everywhere &= same
            ms = {name: spent[name] / len(features) / 1e6 for name in spent}
            for name in sides:
                sides[name].append(ms[name])
            print(f"round {run}: base {ms['base']:.3f}  branch {ms['branch']:.3f} CPU ms/article"
                  f"  ratio {ms['branch'] / ms['base']:.3f}  same assignments {same}",
                  flush=True)
            del branch, base
        summary = "  ".join(f"{name} min {min(v):.3f} median {statistics.median(v):.3f}"
                            for name, v in sides.items())
        print(f"{summary}  ratio of sums {sum(sides['branch']) / sum(sides['base']):.3f}")
    return 0 if same_everywhere else 1


if __name__ == "__main__":
    sys.exit(main())
