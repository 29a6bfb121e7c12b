#!/usr/bin/env bash
# Regenerates constraints.txt from the current virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip freeze --exclude-editable | grep -v '^-e ' | sort > constraints.txt
echo "pinned $(wc -l < constraints.txt) packages"
