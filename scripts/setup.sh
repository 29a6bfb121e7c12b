#!/usr/bin/env bash
# Creates the virtualenv and installs Storyline with its pinned dependencies.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
cd "$(dirname "$0")/.."

"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
command -v java >/dev/null || { echo "Java 17+ is required for the local Kafka broker" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# constraints.txt pins every package (regenerate with scripts/lock.sh)
"$venv/bin/pip" install --quiet -c constraints.txt -e '.[dev]'
# when numba is there (the `compiled` extra, part of `dev`): compile the clusterer's kernels
# once into their cache (~15 CPU s), so that no start with STORYLINE_COMPILED_KERNELS=true
# pays it (docs/clustering.md); without numba the portable code runs and there is nothing to do
if "$venv/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("numba") is None)'; then
    "$venv/bin/python" -c 'from storyline.domain.assign import kernels; kernels.warm()'
fi
echo "installed Storyline into $venv"
