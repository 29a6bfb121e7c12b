"""Rule set (``find_dates``) against ctparse and dateparser on a sample of dev articles.

Neither library is a project dependency; install them in a scratch venv outside the repo and
put the project's sources on the path:

    python3.11 -m venv /tmp/ctp-venv
    /tmp/ctp-venv/bin/pip install ctparse dateparser pydantic
    PYTHONPATH=services /tmp/ctp-venv/bin/python benchmarks/compare_date_parsers.py \
        [--n 60] [--seed 17] [--timeout 1.0] [--dump 4] [--out /tmp/date_parsers_dump.txt]

Prints articles/s and sentences/s for each method (one process, so one core) and writes the
per-sentence outputs of the first ``--dump`` sampled articles for hand checking: only the
sentences where at least one method found something.

ctparse returns one best parse per call, so it is called per sentence; each call stops at
``--timeout`` seconds (ctparse then keeps what it had), and the calls that reached it are
counted. dateparser (``search.search_dates``) is skipped when it is not importable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyline.domain.extract.temporal import find_dates
from storyline.domain.extract.text import Document, split_sentences

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"

# A method maps (sentences, publication time) to, per sentence, "matched text -> resolution".
Found = list[list[str]]
Method = Callable[[tuple[str, ...], dt.datetime], Found]


@dataclass(frozen=True, slots=True)
class Article:
    uri: str
    published: dt.datetime  # naive UTC: both libraries do arithmetic on it
    sentences: tuple[str, ...]


def load_sample(path: Path, n: int, seed: int) -> list[Article]:
    """``n`` articles drawn with a fixed seed, body only (the headline is not a sentence of
    the article in ``extract_facts`` either)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    picked = random.Random(seed).sample(range(len(lines)), n)
    out: list[Article] = []
    for i in picked:
        item = json.loads(lines[i])
        body = next(b["value"] for b in item["bodies"] if b.get("role") == "main")
        published = dt.datetime.fromisoformat(item["versioncreated"])
        published = published.astimezone(dt.UTC).replace(tzinfo=None)
        out.append(Article(item["uri"], published, split_sentences(body)))
    return out


def rules(sentences: tuple[str, ...], published: dt.datetime) -> Found:
    doc = Document(sentences)
    out: Found = [[] for _ in sentences]
    for m in find_dates(doc, published.date()):
        s = m.span
        out[m.sentence].append(f"{m.text!r} -> {s.start}..{s.end} {s.precision.value}")
    return out


def _ctparse_text(resolution: Any) -> str:
    if resolution is None:
        return "None"
    return f"{type(resolution).__name__} {resolution}"


def make_ctparse(timeout: float, timed_out: list[int]) -> Method:
    from ctparse import ctparse
    from ctparse.ctparse import _preprocess_string  # match offsets refer to this text
    from ctparse.time.postprocess_latent import apply_postprocessing_rules

    logging.getLogger("ctparse").setLevel(logging.ERROR)  # a warning per empty sentence

    def run(sentences: tuple[str, ...], published: dt.datetime) -> Found:
        out: Found = []
        for sentence in sentences:
            t0 = time.perf_counter()
            # latent_time=False and the same post-processing by hand give ctparse's default
            # result (it post-processes after scoring), but keep the matched span, which the
            # anchored time of day ("8 pm" -> publication day 20:00) would lose.
            parse = ctparse(sentence, ts=published, timeout=timeout, latent_time=False)
            res = None if parse is None else apply_postprocessing_rules(published, parse.resolution)
            if time.perf_counter() - t0 >= timeout:
                timed_out[0] += 1
            if parse is None:
                out.append([])
                continue
            raw = parse.resolution
            span = _preprocess_string(sentence)[raw.mstart : raw.mend]
            out.append([f"{span!r} -> {_ctparse_text(res)}"])
        return out

    return run


def make_dateparser() -> Method | None:
    try:
        from dateparser.search import search_dates
    except ImportError:
        return None

    def run(sentences: tuple[str, ...], published: dt.datetime) -> Found:
        settings = {"RELATIVE_BASE": published, "PREFER_DATES_FROM": "past"}
        out: Found = []
        for sentence in sentences:
            hits = search_dates(sentence, languages=["en"], settings=settings) or []
            out.append([f"{text!r} -> {when:%Y-%m-%d}" for text, when in hits])
        return out

    return run


def timed(method: Method, articles: list[Article], passes: int) -> tuple[float, list[Found]]:
    """Best wall time of ``passes`` runs over all articles, and the outputs of the last."""
    best = float("inf")
    outputs: list[Found] = []
    for _ in range(passes):
        t0 = time.perf_counter()
        outputs = [method(a.sentences, a.published) for a in articles]
        best = min(best, time.perf_counter() - t0)
    return best, outputs


def dump(path: Path, articles: list[Article], results: dict[str, list[Found]], k: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i, a in enumerate(articles[:k]):
            out.write(f"=== {a.uri} published {a.published:%Y-%m-%d %H:%M} ({a.published:%a})\n")
            for j, sentence in enumerate(a.sentences):
                found = {name: r[i][j] for name, r in results.items() if r[i][j]}
                if not found:
                    continue
                out.write(f"[{j}] {sentence}\n")
                for name, items in found.items():
                    for item in items:
                        out.write(f"    {name:10} {item}\n")
            out.write("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--set", default="timeline17-dev")
    parser.add_argument("--timeout", type=float, default=1.0, help="per ctparse call, seconds")
    parser.add_argument("--dump", type=int, default=4, help="articles to write out")
    parser.add_argument("--out", type=Path, default=Path("/tmp/date_parsers_dump.txt"))
    args = parser.parse_args()

    articles = load_sample(SHARED / "data" / args.set / "articles.jsonl", args.n, args.seed)
    n = len(articles)
    sentences = sum(len(a.sentences) for a in articles)
    print(f"set={args.set} seed={args.seed} articles={n} sentences={sentences}")

    timed_out = [0]
    methods: list[tuple[str, Method, int]] = [
        ("rules", rules, 3),  # fast: best of three
        ("ctparse", make_ctparse(args.timeout, timed_out), 1),  # slow: one pass
    ]
    dateparser = make_dateparser()
    if dateparser is not None:
        methods.append(("dateparser", dateparser, 1))
    else:
        print("dateparser not importable: skipped")

    results: dict[str, list[Found]] = {}
    for name, method, passes in methods:
        seconds, results[name] = timed(method, articles, passes)
        hits = sum(len(items) for found in results[name] for items in found)
        with_hits = sum(1 for found in results[name] for items in found if items)
        print(
            f"{name:10} {n / seconds:9.1f} articles/s {sentences / seconds:10.1f} sentences/s"
            f"  ({seconds:.1f} s; {hits} results in {with_hits} sentences)"
        )
    print(f"ctparse calls that reached the {args.timeout} s timeout: {timed_out[0]}")
    dump(args.out, articles, results, args.dump)
    print(f"per-sentence outputs of {min(args.dump, n)} articles: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
