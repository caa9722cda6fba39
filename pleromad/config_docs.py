"""etc/pleromad.toml and docs/configuration.md, written from the configuration code.

Every key's default, type and description are declared once, in
:mod:`pleromad.config`; ``python -m pleromad.config_docs`` rewrites both
files, and a test keeps them equal to what it would write, so neither can
drift from what the daemon really reads.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import Field
from pathlib import Path
from typing import Any

from pleromad.config import SECTIONS, toml_key

SAMPLE_PATH = Path("etc/pleromad.toml")
REFERENCE_PATH = Path("docs/configuration.md")

_SAMPLE_HEADER = """\
# pleromad configuration -- every key, set to its default.
#
# Start with:  twistd -n pleromad --config etc/pleromad.toml
# Command-line options --listen, --data-dir and --dsn override this file.
#
# Relative paths are relative to the folder this file is in; "~" is expanded.
# An unknown section or key, or a value of the wrong type, stops the daemon
# at start with one line naming the key. Delete whatever you do not change.
#
# Written by `python -m pleromad.config_docs` from pleromad/config.py; the
# same descriptions are in docs/configuration.md.
"""

_REFERENCE_HEADER = """\
# Configuration reference

pleromad reads one TOML file, given with `--config FILE` (to `twistd
pleromad` and to `pleromad-ctl` alike); without one, every key has its
default. `etc/pleromad.toml` is a copy of these defaults with the same
descriptions. Relative paths are relative to the file's folder (to the
working directory when there is no file) and `~` is expanded.

An unknown section or key, or a value of the wrong type, stops the daemon
before it starts anything, with one line naming the key, e.g.
`pleromad: config error: [server] listen_on: unknown key`, and exit status
78. The command-line options `--listen`, `--data-dir` and `--dsn` override
`[server] listen`, `[server] data_dir` and `[database] dsn`.

This page is written by `python -m pleromad.config_docs` from
`pleromad/config.py`; edit the descriptions there.
"""

# How a field's annotation reads to an operator.
_KINDS = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "Path": "path",
    "Path | None": "path, or empty",
    "tuple[str, ...]": "array of strings",
    "tuple[int, int]": "[requests, seconds]",
    "tuple[IPNetwork, ...]": "array of addresses or networks",
}
# A default longer than this is written as a commented-out example.
_LONGEST_SAMPLE = 76


def toml_value(value: Any) -> str:
    """``value`` as TOML spells it (defaults are declared TOML-shaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return str(value)


def _keys(cls: type[Any]) -> Iterator[tuple[str, Field[Any]]]:
    for f in dataclasses.fields(cls):
        yield toml_key(f), f


def sample() -> str:
    """The annotated configuration file: every key at its default."""
    parts = [_SAMPLE_HEADER]
    for name, cls in SECTIONS:
        lines = [f"[{name}]"]
        for key, f in _keys(cls):
            lines += textwrap.wrap(
                f.metadata["doc"], 78, initial_indent="# ", subsequent_indent="# "
            )
            line = f"{key} = {toml_value(f.metadata['default'])}"
            if len(line) > _LONGEST_SAMPLE:
                shown = ", ".join(toml_value(item) for item in f.metadata["default"][:3])
                line = f"# {key} = [{shown}, ...]"
            lines.append(line)
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def reference() -> str:
    """The configuration reference in Markdown."""
    parts = [_REFERENCE_HEADER]
    for name, cls in SECTIONS:
        lines = [f"## `[{name}]`", ""]
        for key, f in _keys(cls):
            value = toml_value(f.metadata["default"])
            default = "see below" if len(value) > _LONGEST_SAMPLE else f"`{value}`"
            kind = _KINDS[str(f.type)]
            lines.append(f"- **`{key}`** ({kind}; default {default}): {f.metadata['doc']}")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def main(root: str = ".") -> None:
    """Rewrite both files under the checkout ``root``."""
    base = Path(root)
    (base / SAMPLE_PATH).write_text(sample(), encoding="utf-8")
    (base / REFERENCE_PATH).parent.mkdir(exist_ok=True)
    (base / REFERENCE_PATH).write_text(reference(), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
