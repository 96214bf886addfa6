#!/usr/bin/env python3
"""Writes the fideslang default taxonomy (data categories and data uses) as Consentinel taxonomy data.

Reads the installed `fideslang` package (`fideslang.default_taxonomy.DEFAULT_TAXONOMY`) and writes
`data_categories.json` and `data_uses.json` into the output folder (default: pipelines/taxonomy next to this
script's repository root): JSON lists of {"key", "name", "description"} sorted by key, pretty-printed, with a
trailing newline, so the output is byte-for-byte stable for one fideslang version.

Usage: python3 scripts/taxonomy.py [--out DIR] [--expect-version 3.1.4]
"""

import argparse
import json
import sys
from pathlib import Path


def entries(items, kind):
    out = []
    keys = set()
    for item in items:
        key = item.fides_key
        parent = getattr(item, "parent_key", None)
        # Consentinel derives a key's parent from its dot path; insist that fideslang agrees.
        expected_parent = key.rsplit(".", 1)[0] if "." in key else None
        if parent != expected_parent:
            sys.exit(f"{kind} {key!r}: parent_key {parent!r} is not its dot-path parent {expected_parent!r}")
        if key in keys:
            sys.exit(f"{kind} {key!r} appears twice")
        keys.add(key)
        out.append({"key": key, "name": item.name or "", "description": item.description or ""})
    for e in out:
        if "." in e["key"] and e["key"].rsplit(".", 1)[0] not in keys:
            sys.exit(f"{kind} {e['key']!r} has no parent in the taxonomy")
    return sorted(out, key=lambda e: e["key"])


def write(path, data):
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({len(data)} entries)")


def main():
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=root / "pipelines" / "taxonomy")
    parser.add_argument("--expect-version", default="3.1.4")
    args = parser.parse_args()

    import fideslang
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    version = getattr(fideslang, "__version__", None)
    if args.expect_version and version != args.expect_version:
        sys.exit(f"fideslang {version} is installed, expected {args.expect_version}")

    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out / "data_categories.json", entries(DEFAULT_TAXONOMY.data_category, "data category"))
    write(args.out / "data_uses.json", entries(DEFAULT_TAXONOMY.data_use, "data use"))


if __name__ == "__main__":
    main()
