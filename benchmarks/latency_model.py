"""Which records make the p99 at a steady rate, without a quiet machine: a model.

``bench_latency.py`` measures produce -> StoryUpdated on the real broker, and on a shared
2-core machine its tail is mostly the neighbours' load. This model answers the narrower
question "which records' own work puts the ones behind them over 250 ms": each record's CPU
time in the staged worker's two ordered steps, measured in fresh processes as the worker
splits them (the extract stage's work, then the fold process's: the facts record decoded,
assigned, folded, its events serialised; each with its ``Collector``, as the stages run
them), then the latency of each record at ``--rate`` through two stations in series (a
record waits for the one before it at each) plus a fixed ``--hop`` per Kafka hop. CPU time
is the machine's speed only, so two code versions compare on a busy machine too. What it
leaves out: the broker, the clients, the event loop and the other process on the same
cores; read its figures beside a real run, not instead of one.

    PYTHONPATH=services .venv/bin/python benchmarks/latency_model.py \\
        ../shared/data/timeline17-dev/articles.jsonl [--count 1500] [--rate 50] [--hop 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from storyline.collector import Collector


def measure_extract(articles: Path, count: int, facts_out: Path) -> list[float]:
    """CPU ms of each record's extraction, the facts records written as JSON lines."""
    from storyline.domain.events import DeadLetter
    from storyline.domain.records import decode_article
    from storyline.domain.stages import extract
    from storyline.replay import iter_records_from_files

    collector = Collector()
    times: list[float] = []
    with facts_out.open("wb") as out:
        for key, value, position in iter_records_from_files([articles], "model", count):
            started = time.process_time()
            article = decode_article(key, value, position, max_bytes=1 << 30)
            if isinstance(article, DeadLetter):  # nothing folds it: no facts record
                continue
            line = extract(article, position).model_dump_json().encode()
            collector.folded()
            times.append(1000 * (time.process_time() - started))
            out.write(line + b"\n")
    return times


def measure_fold(facts: Path) -> list[float]:
    """CPU ms of each facts record's fold, as the fold process makes it."""
    from storyline.domain.contracts import ArticleExtracted
    from storyline.domain.pipeline import Pipeline
    from storyline.domain.stages import LogPosition

    pipeline, collector = Pipeline(), Collector()
    times: list[float] = []
    with facts.open("rb") as lines:
        for line in lines:
            started = time.process_time()
            extracted = ArticleExtracted.model_validate_json(line)
            position = LogPosition("model", 0, extracted.position.offset)
            events = []
            if pipeline.claim(position):
                assigned = pipeline.assigner.assign(extracted)
                if assigned is not None:
                    events = pipeline.fold(assigned, extracted)
            for event in events:
                event.model_dump_json()
            collector.folded()
            times.append(1000 * (time.process_time() - started))
    return times


def latencies(extract_ms: list[float], fold_ms: list[float], rate: float, hop: float
              ) -> list[float]:
    """Each record's latency through the two stations at ``rate`` records a second."""
    gap = 1000.0 / rate
    extracted = folded = 0.0
    out: list[float] = []
    for i, (extract_cost, fold_cost) in enumerate(zip(extract_ms, fold_ms, strict=True)):
        arrived = i * gap
        extracted = max(arrived + hop, extracted) + extract_cost
        folded = max(extracted + hop, folded) + fold_cost
        out.append(folded + hop - arrived)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("articles", type=Path)
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--hop", type=float, default=8.0,
                        help="ms a Kafka hop adds (three: articles, facts, updates)")
    parser.add_argument("--step", choices=("extract", "fold"), help=argparse.SUPPRESS)
    parser.add_argument("--facts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "extract":  # a fresh process each, as the stages are
        print(json.dumps(measure_extract(args.articles, args.count, args.facts)))
        return
    if args.step == "fold":
        print(json.dumps(measure_fold(args.facts)))
        return
    with tempfile.TemporaryDirectory() as work:
        facts = Path(work) / "facts.jsonl"
        step = [sys.executable, __file__, str(args.articles), "--count", str(args.count),
                "--facts", str(facts), "--step"]
        extract_ms = json.loads(subprocess.run([*step, "extract"], check=True,
                                               capture_output=True, text=True).stdout)
        fold_ms = json.loads(subprocess.run([*step, "fold"], check=True,
                                            capture_output=True, text=True).stdout)
    model = latencies(extract_ms, fold_ms, args.rate, args.hop)
    ordered = sorted(model)
    over = [i for i, ms in enumerate(model) if ms > 250]
    slowest = sorted(range(len(model)), key=lambda i: -(extract_ms[i] + fold_ms[i]))[:10]
    print(json.dumps({
        "records": len(model),
        "rate": args.rate,
        "extract_cpu_s": round(sum(extract_ms) / 1000, 2),
        "fold_cpu_s": round(sum(fold_ms) / 1000, 2),
        "p50_ms": round(ordered[len(ordered) // 2]),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)]),
        "over_250_ms": len(over),
        "over_at": over[:40],
        "costliest": [{"offset": i, "extract_ms": round(extract_ms[i]),
                       "fold_ms": round(fold_ms[i])} for i in slowest],
    }, indent=2))


if __name__ == "__main__":
    main()
