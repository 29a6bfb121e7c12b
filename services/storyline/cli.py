"""The ``storyline`` command: one sub-command per operator task.

Each sub-command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so ``storyline
kafka up`` does not pay for faust or FastAPI imports.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("storyline.commands.worker", "run the streaming worker (faust) over the articles"),
    "replay": ("storyline.commands.replay", "rebuild every revision from offset 0; --verify"),
    "status": ("storyline.commands.status", "show (or --wait for) the worker's lag"),
    "story": ("storyline.commands.story", "list stories or print a story page"),
    "projector": ("storyline.read.projector_cli", "materialise story updates into the read store"),
    "serve": ("storyline.web.serve_cli", "HTTP API, SSE and pages (with the projector)"),
    "ingest": ("storyline.ingest.cli",
               "validate wire files and publish their articles to the articles topic"),
    "keys": ("storyline.commands.keys", "make an API key (its secret once, its hashed entry)"),
    "schemas": ("storyline.commands.schemas", "write or check the JSON Schemas in schemas/"),
    "kafka": ("storyline.kafka.cli", "start, stop or inspect the local single-node Kafka broker"),
    "topics": ("storyline.kafka.topics_cli", "create the topics declared in deploy/topics.toml"),
    "eval": ("storyline.evaluation.eval_cli",
             "score timelines, clustering or dates against gold data"),
}


def plain(text: str) -> str:
    """Docstring text as a terminal shows it: reStructuredText roles and literals
    (``:mod:`x```, double back-quotes) become the bare words."""
    return re.sub(r"(?::[a-z]+:)?`+([^`]*)`+", r"\1", text)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """Only the selected command's module is imported: one broken or slow command module
    cannot break the others."""
    parser = argparse.ArgumentParser(prog="storyline",
                                     description=plain(__doc__.splitlines()[0]))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, raw_help) in COMMANDS.items():
        help_text = plain(raw_help)
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module_name)
        if name == selected:
            importlib.import_module(module_name).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(selected).parse_args(argv)
    module = importlib.import_module(args._module)
    result: int = module.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
