"""``storyline schemas write|check``: the JSON Schemas of the event contracts (and of the
contracts between the core's stages) in schemas/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from storyline.domain.contracts import STAGE_CONTRACTS
from storyline.domain.events import ALL_EVENTS, ArticleReceived

# schemas/ of this checkout (as kafka.topics finds deploy/topics.toml); a pip-installed
# copy (Docker) finds it from the cwd
_CHECKOUT_DIR = Path(__file__).resolve().parents[3] / "schemas"


def default_schemas_dir() -> Path:
    if _CHECKOUT_DIR.is_dir():
        return _CHECKOUT_DIR
    return Path.cwd() / "schemas"


# Written by producers outside Storyline too (wire ingestors writing the articles topic
# directly): its schema says what is accepted, where a field with a default may be left
# out. The others say what Storyline writes: every field, a default included, but the ones
# left out when empty (a list entry's url).
_WRITTEN_BY_OTHERS = frozenset({ArticleReceived})


def generated() -> dict[str, bytes]:
    """File name -> the exact bytes ``schemas/`` must hold."""
    out: dict[str, bytes] = {}
    for model in (*ALL_EVENTS, *STAGE_CONTRACTS):
        schema = (model.model_json_schema(mode="validation") if model in _WRITTEN_BY_OTHERS
                  else model.model_json_schema(mode="serialization"))
        version = model.model_fields["schema_version"].default
        name = f"{model.__name__}.v{version}.schema.json"
        out[name] = orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("write", "check"))
    parser.add_argument("--dir", type=Path, default=None,
                        help="default: schemas/ of the checkout (else of the cwd)")


def run(args: argparse.Namespace) -> int:
    wanted = generated()
    directory: Path = args.dir or default_schemas_dir()
    if args.action == "write":
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in wanted.items():
            (directory / name).write_bytes(data)
        print(f"wrote {len(wanted)} schemas to {directory}/")
        return 0
    if not directory.is_dir():
        print(f"storyline schemas: {directory} is missing (--dir DIR names another; "
              "`storyline schemas write` makes it)", file=sys.stderr)
        return 1
    missing = [name for name in wanted if not (directory / name).is_file()]
    drift = [name for name, data in wanted.items()
             if name not in missing and (directory / name).read_bytes() != data]
    if missing:
        print(f"schemas missing from {directory} (run `storyline schemas write`): "
              + ", ".join(missing), file=sys.stderr)
    if drift:
        print(f"schemas out of date in {directory} (run `storyline schemas write`): "
              + ", ".join(drift), file=sys.stderr)
    if missing or drift:
        return 1
    print(f"{len(wanted)} schemas up to date in {directory}")
    return 0
