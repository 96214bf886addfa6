#!/usr/bin/env bash
# Regenerates pipelines/taxonomy/*.json from fideslang (PyPI) in a throw-away virtual environment.
# Usage: scripts/refresh-taxonomy.sh [VERSION]   (default 3.1.4)
set -euo pipefail
version="${1:-3.1.4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "fideslang==$version"
"$venv/bin/python" "$root/scripts/taxonomy.py" --out "$root/pipelines/taxonomy" --expect-version "$version"
python3 "$root/scripts/embed-taxonomy.py"
