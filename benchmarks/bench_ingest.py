"""Ingest throughput: parse + validate on the dev data, and produce to the real broker.

    .venv/bin/python benchmarks/bench_ingest.py [--no-produce] [FILE.jsonl ...]

Parsing is timed in process on the whole files (read into memory first, so disk is not
measured): JSON decoding, a full IPTC schema walk per item (what validation would cost
without the valid-shape cache), and the full ``parse_bytes`` as the service runs it.
Producing sends every parsed article through ``ArticleProducer`` (idempotent, acks=all,
gzip unless said otherwise) to fresh topics (``bench-<random>.`` prefix) on the broker of
STORYLINE_BOOTSTRAP_SERVERS (default 127.0.0.1:9092; `storyline kafka up`), timed from the
first send to the last acknowledgement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from storyline.domain.events import ArticleReceived
from storyline.ingest.ninjs import generation, validator
from storyline.ingest.normalise import parse_bytes
from storyline.settings import Settings, get_settings

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DEFAULT_FILES = [SHARED / "timeline17-dev" / "articles.jsonl",
                 SHARED / "entities-dev" / "articles.jsonl"]


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def bench_parse(lines: list[bytes], max_bytes: int) -> tuple[dict[str, Any],
                                                               list[ArticleReceived]]:
    started = time.perf_counter()
    objects = [orjson.loads(line) for line in lines]
    decode_s = time.perf_counter() - started

    validator(2)  # compiled once per process, as in the service
    started = time.perf_counter()
    for obj in objects:
        next(validator(generation(obj)).iter_errors(obj), None)
    schema_s = time.perf_counter() - started

    started = time.perf_counter()
    articles = [parse_bytes(line, max_bytes=max_bytes) for line in lines]
    parse_s = time.perf_counter() - started
    return {
        "articles": len(lines),
        "mb": round(sum(map(len, lines)) / 1e6, 1),
        "json_decode_us_per_article": round(decode_s / len(lines) * 1e6, 1),
        # the full IPTC schema walk, which the service skips for item shapes it has seen
        "uncached_schema_validation_us_per_article": round(schema_s / len(lines) * 1e6, 1),
        "parse_validate_us_per_article": round(parse_s / len(lines) * 1e6, 1),
        "parse_validate_articles_per_s": rate(len(lines), parse_s),
    }, articles


async def bench_produce(articles: list[ArticleReceived], settings: Settings,
                        compression: str | None) -> dict[str, Any]:
    from storyline.ingest.producer import ArticleProducer
    from storyline.kafka.admin import apply_topics
    from storyline.kafka.topics import default_topics_file, load_topics

    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    run_settings = settings.model_copy(update={"topic_prefix": prefix})
    await apply_topics(run_settings.bootstrap_servers,
                       load_topics(default_topics_file(), prefix),
                       run_settings.replication_factor)
    async with ArticleProducer(run_settings, compression=compression) as producer:
        started = time.perf_counter()
        futures = [await producer.enqueue(article) for article in articles]
        positions = [await future for future in futures]
        seconds = time.perf_counter() - started
    assert positions[-1].offset == len(articles) - 1
    return {"compression": compression or "none", "articles": len(articles),
            "seconds": round(seconds, 2), "produce_articles_per_s": rate(len(articles), seconds),
            "topic": run_settings.articles}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    parser.add_argument("--no-produce", action="store_true")
    args = parser.parse_args()
    missing = [str(f) for f in args.files if not f.exists()]
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    settings = get_settings()
    report: dict[str, Any] = {"parse": {}, "produce": []}
    articles: list[ArticleReceived] = []
    for path in args.files:
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        result, parsed = bench_parse(lines, settings.max_article_bytes)
        report["parse"][path.parent.name or str(path)] = result
        print(f"parse {path.parent.name}: {result['parse_validate_articles_per_s']} "
              f"articles/s ({result['parse_validate_us_per_article']} us each; a full "
              f"schema walk alone is {result['uncached_schema_validation_us_per_article']} us)")
        articles.extend(parsed)
    if not args.no_produce:
        for compression in ("gzip", None):
            result = asyncio.run(bench_produce(articles, settings, compression))
            report["produce"].append(result)
            print(f"produce ({result['compression']}): {result['produce_articles_per_s']} "
                  f"articles/s ({result['articles']} in {result['seconds']} s)")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
