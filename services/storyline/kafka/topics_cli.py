"""``storyline topics apply [--dry-run]``: create the topics declared in deploy/topics.toml.

An existing topic is never changed: a difference between its declared and live partitions,
replication factor or configs is reported and makes the command exit 2 (unless
``--allow-differences``). Exit 1: the file is malformed or the cluster refused a request.
``--dry-run`` exits 3 when a declared topic is missing (it would be created), so exit 0
means every topic is present and as declared.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

EXIT_DIFFERENCES = 2
EXIT_MISSING = 3  # --dry-run: a declared topic does not exist (apply would create it)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="topics_action", required=True, metavar="ACTION")
    apply = sub.add_parser(
        "apply", help="create missing topics, report differing ones",
        description="Create the missing topics declared in deploy/topics.toml; an existing "
                    "topic is never changed.",
        epilog="exit status: 0 every topic present (or created) and as declared; 1 the "
               "file is malformed or the cluster refused a request; 2 a topic differs from "
               "its declaration (unless --allow-differences); 3 with --dry-run, a topic is "
               "missing (it would be created)")
    apply.add_argument("--dry-run", action="store_true",
                       help="only report what would be created and what differs (exit 3 "
                            "when a topic would be created)")
    apply.add_argument("--allow-differences", action="store_true",
                       help="exit 0 even when an existing topic differs from its declaration")
    apply.add_argument("--file", type=Path,
                       help="topics file (env STORYLINE_TOPICS_FILE, default deploy/topics.toml)")
    apply.add_argument("--bootstrap-servers",
                       help="override STORYLINE_BOOTSTRAP_SERVERS")
    apply.add_argument("--prefix", help="override STORYLINE_TOPIC_PREFIX")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import os

    from aiokafka.errors import KafkaError

    from storyline.kafka.admin import AdminError, NotOurs, apply_topics
    from storyline.kafka.topics import TopicsFileError, default_topics_file, load_topics
    from storyline.logconfig import configure_logging
    from storyline.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    bootstrap = args.bootstrap_servers or settings.bootstrap_servers
    if args.prefix is not None:
        # the flag stands for the setting in everything the setting decides, the articles
        # topic of a deployment beside another (STORYLINE_SOURCE_PREFIX) included
        settings = settings.model_copy(update={"topic_prefix": args.prefix})
    prefix = settings.topic_prefix
    path = args.file or Path(os.environ.get("STORYLINE_TOPICS_FILE") or default_topics_file())
    not_ours: list[str] = []
    try:
        specs = load_topics(path, prefix)
        if settings.source_prefix is not None:
            # a deployment that reads another's articles: theirs, not a topic of its own, so
            # never made here: made under a wrong STORYLINE_SOURCE_PREFIX it would be an empty
            # log, which the new deployment folds at once and `storyline status` calls caught up
            own = settings.topic(settings.articles_topic)
            specs = [dataclasses.replace(spec, name=settings.articles) if spec.name == own
                     else spec for spec in specs]
            if settings.source_prefix != settings.topic_prefix:
                not_ours = [settings.articles]
        report = asyncio.run(apply_topics(bootstrap, specs, settings.replication_factor,
                                          dry_run=args.dry_run, not_ours=not_ours))
    except TopicsFileError as error:
        print(f"storyline topics apply: {error}", file=sys.stderr)
        return 1
    except NotOurs as error:
        print(f"storyline topics apply: the articles topic {', '.join(error.names)} does not "
              f"exist, and nothing was created: STORYLINE_SOURCE_PREFIX="
              f"'{settings.source_prefix}' names the articles topic of the deployment this one "
              "runs beside, which that deployment made (is STORYLINE_SOURCE_PREFIX right? It is "
              "that deployment's own STORYLINE_SOURCE_PREFIX if it has one, else its "
              "STORYLINE_TOPIC_PREFIX; docs/operations.md, \"Upgrading the pipeline\")",
              file=sys.stderr)
        return 1
    except (AdminError, KafkaError, OSError) as error:
        print(f"storyline topics apply: {bootstrap}: {error!r}", file=sys.stderr)
        return 1

    created = {spec.name for spec in report.created}
    for spec in report.plan.create:
        if args.dry_run:
            verb = "would create"
        else:
            verb = "created" if spec.name in created else "already exists (created concurrently)"
        configs = " ".join(f"{key}={value}" for key, value in sorted(spec.configs.items()))
        print(f"{verb} {spec.name} partitions={spec.partitions} "
              f"replication_factor={spec.replication_factor or settings.replication_factor} "
              f"{configs}".rstrip())
    for name in report.plan.unchanged:
        print(f"ok {name}")
    for difference in report.plan.differences:
        print(f"DIFFERS {difference.describe()}")
    if report.plan.differences:
        hint = "" if args.allow_differences else (
            " (not changed: fix the topic by hand or the declaration; "
            "--allow-differences to accept)")
        print(f"{len(report.plan.differences)} difference(s){hint}", file=sys.stderr)
        if not args.allow_differences:
            return EXIT_DIFFERENCES
    if args.dry_run and report.plan.create:
        print(f"{len(report.plan.create)} topic(s) missing: `storyline topics apply` creates "
              "them", file=sys.stderr)
        return EXIT_MISSING
    return 0
