"""``storyline keys new --id NAME``: make an API key for POST /v1/articles.

Prints the secret once (give it to the client; it is not stored anywhere) and the entry to
append to STORYLINE_API_KEYS (comma separated), which holds only a salted hash of it."""

from __future__ import annotations

import argparse
import sys

from storyline.web.keys import InvalidKeyEntry, new_key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = sub.add_parser("new", help="make a key: print its secret once and its setting entry")
    new.add_argument("--id", required=True, dest="key_id",
                     help="the key's name (1-64 letters, digits, '.', '_', '-'); recorded "
                     "with every article submitted with it")


def run(args: argparse.Namespace) -> int:
    try:
        secret, entry = new_key(args.key_id)
    except InvalidKeyEntry as exc:
        print(f"storyline keys: {exc}", file=sys.stderr)
        return 2
    print(f"secret (shown once; the client sends it as X-API-Key): {secret}")
    print(f"entry for STORYLINE_API_KEYS (comma separated): {entry}")
    return 0
