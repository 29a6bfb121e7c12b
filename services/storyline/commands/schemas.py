"""``storyline schemas write|check``: the JSON Schemas of the event contracts (and of the
contracts between the core's stages) in schemas/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from storyline.domain.contracts import STAGE_CONTRACTS
from storyline.domain.events import ALL_EVENTS

DEFAULT_DIR = Path("schemas")


def generated() -> dict[str, bytes]:
    """File name -> the exact bytes ``schemas/`` must hold."""
    out: dict[str, bytes] = {}
    for model in (*ALL_EVENTS, *STAGE_CONTRACTS):
        schema = model.model_json_schema(mode="serialization")
        version = model.model_fields["schema_version"].default
        name = f"{model.__name__}.v{version}.schema.json"
        out[name] = orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("write", "check"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)


def run(args: argparse.Namespace) -> int:
    wanted = generated()
    directory: Path = args.dir
    if args.action == "write":
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in wanted.items():
            (directory / name).write_bytes(data)
        print(f"wrote {len(wanted)} schemas to {directory}/")
        return 0
    drift = [name for name, data in wanted.items()
             if not (directory / name).exists() or (directory / name).read_bytes() != data]
    if drift:
        print("schemas out of date (run `storyline schemas write`): " + ", ".join(drift),
              file=sys.stderr)
        return 1
    print(f"{len(wanted)} schemas up to date")
    return 0
