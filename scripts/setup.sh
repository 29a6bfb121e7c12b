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
# compile the clusterer's numba kernels once into their cache (~15 CPU s), so that no
# worker start pays it (docs/clustering.md)
"$venv/bin/python" -c 'from storyline.domain import kernels; kernels.warm()'
echo "installed Storyline into $venv"
