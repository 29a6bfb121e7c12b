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
from typing import Any

from storyline.errors import ConfigurationError, OperatorError

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("storyline.commands.worker",
               "run the staged streaming worker over the articles (--single: faust, in one "
               "process)"),
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
             "score timelines, clustering, dates, event dates or summaries against gold "
             "data"),
}


def plain(text: str) -> str:
    """Docstring text as a terminal shows it: reStructuredText roles and literals
    (``:mod:`x```, double back-quotes) become the bare words."""
    return re.sub(r"(?::[a-z]+:)?`+([^`]*)`+", r"\1", text)


def port_number(text: str) -> int:
    """argparse type of a TCP port: 0-65535 (a larger number is taken modulo 65536 by the
    socket layer: 70000 would listen on 4464)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is no port (0-65535)")
    return port


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
    try:
        module = importlib.import_module(args._module)
        result: int = module.run(args)
    except KeyboardInterrupt:
        return 130  # Ctrl-C: the operator knows why it ended
    except BaseException as exc:
        code = operator_error(args.command, exc)
        if code is None:
            raise  # a fault of the program: its traceback is wanted
        return code
    return result


# exit statuses of the error boundary
EXIT_FAILED = 1  # the command could not do its work (no broker, a missing topic, a bad file)
EXIT_CONFIG = 2  # the configuration (the environment) is wrong: nothing was attempted


def operator_error(command: str, exc: BaseException) -> int | None:
    """Print the one line an operator needs for an error of theirs (a bad setting, no
    broker, a missing topic, an unreadable file) and return the exit status; None: a fault
    of the program, left to its traceback. No line holds the input of a setting (a
    password would be one)."""
    from pydantic import ValidationError
    from pydantic_settings import BaseSettings

    if isinstance(exc, ValidationError):
        prefixes = _settings_prefixes(BaseSettings)
        if exc.title not in prefixes:
            return None
        for line in settings_errors(exc, prefixes[exc.title]):
            print(f"storyline: {line}", file=sys.stderr)
        return EXIT_CONFIG
    if isinstance(exc, ConfigurationError):
        print(f"storyline: {_one_line(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    import sqlite3

    from aiokafka.errors import KafkaError

    if isinstance(exc, KafkaError | OSError | sqlite3.Error | OperatorError):
        print(f"storyline {command}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    return None


def settings_errors(exc: Any, prefix: str) -> list[str]:
    """``STORYLINE_<FIELD>: <message>`` for each error of a settings model, without its
    input (``include_input=False``: pydantic would repeat every value read, passwords
    included)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        message = re.sub(r"^(Value|Assertion) error, ", "", str(error["msg"]))
        fields = [str(part) for part in error["loc"] if not isinstance(part, int)]
        name = f"{prefix}{'__'.join(fields)}".upper()
        lines.append(f"{name}: {message}" if fields else message)
    return lines


def _settings_prefixes(base: type) -> dict[str, str]:
    """Name of every settings class loaded -> its environment prefix."""
    found: dict[str, str] = {}
    todo: list[Any] = list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        found[cls.__name__] = str(cls.model_config.get("env_prefix", ""))
    return found


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror}"
    name = type(exc).__name__
    if not text:
        return name
    if not isinstance(exc, OperatorError | ConfigurationError) and not text.startswith(name):
        text = f"{name}: {text}"
    return text


if __name__ == "__main__":
    sys.exit(main())
