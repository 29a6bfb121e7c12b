"""CPU of the extractor's name finding with its memos as they are or set otherwise (issue #9).

    PYTHONPATH=services .venv/bin/python benchmarks/bench_names_memo.py FILE --articles 6000
    ... --set _analyse=65536,normalise=65536,_segments=65536,_key_words=65536,_resolve=65536

Runs ``find_names`` over the first ``--articles`` bodies of a ninjs JSON-lines file, the memos
filling as they go (as in a fold), and prints the CPU ms an article and each memo's fill and
hits. ``--set NAME=SIZE`` wraps ``names.NAME`` in an ``lru_cache(SIZE)`` (0: no memo), so the
caps of main before issue #9 (five memos of 65,536) can be compared with the current ones.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from storyline.domain.extract import names
from storyline.domain.extract.text import Document, split_sentences


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--set", default="", help="NAME=SIZE,... (0: no memo)")
    args = parser.parse_args()
    for item in filter(None, args.set.split(",")):
        name, size = item.split("=")
        function: Any = getattr(names, name)
        plain = getattr(function, "__wrapped__", function)
        setattr(names, name, plain if int(size) == 0 else lru_cache(maxsize=int(size))(plain))
    bodies: list[str] = []
    with args.file.open(encoding="utf-8") as lines:
        for line in lines:
            bodies.append(json.loads(line)["bodies"][0]["value"])
            if len(bodies) >= args.articles:
                break
    docs = [Document(split_sentences(body)) for body in bodies]
    del bodies
    gc.collect()
    started = time.process_time()
    for doc in docs:
        names.find_names(doc)
    cpu = time.process_time() - started
    memos = {}
    for name in ("_analyse", "normalise", "_segments", "_key_words", "_resolve"):
        info = getattr(getattr(names, name), "cache_info", None)
        if info is not None:
            memos[name] = {"size": info().currsize, "hits": info().hits, "misses": info().misses}
    print(json.dumps({"articles": len(docs), "set": args.set, "cpu_s": round(cpu, 2),
                      "ms_per_article": round(cpu / len(docs) * 1000, 3), "memos": memos},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
