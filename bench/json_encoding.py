"""Benchmark: encoding real answers, orjson against the standard library.

Encodes two real answers many times with both encoders, as the daemon
encodes JSON (UTF-8, compact): a home timeline page of 20 Status entities
(``bench/data/statuses-page.json``, captured from the daemon: mentions, a
tag, custom emoji, relationships) and the bundled ``/api/pleroma/emoji``
list.  Checks that both encodings decode to the same value, then prints
microseconds per encoding of each and ``orjson/stdlib``.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from bench import _cli
from bench._figure import figure
from pleromad.emoji.table import BUNDLED, load_table

PAGE = Path(__file__).resolve().parent / "data" / "statuses-page.json"


def stdlib(value: Any) -> bytes:
    """The encoder the daemon used before orjson."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def microseconds(encode: Any, value: Any, number: int) -> float:
    """The best of 5 runs of ``number`` encodings, per encoding."""
    return min(timeit.repeat(lambda: encode(value), number=number, repeat=5)) / number * 1e6


def main(options: argparse.Namespace) -> None:
    table, _ = load_table(BUNDLED, "http://localhost:4000")
    answers = {
        "a page of 20 Statuses": json.loads(PAGE.read_bytes()),
        "the emoji list": json.loads(table.pleroma.body),
    }
    for name, value in answers.items():
        if orjson.loads(orjson.dumps(value)) != json.loads(stdlib(value)):
            raise SystemExit(f"{name}: the encoders disagree")
        same = "same bytes" if orjson.dumps(value) == stdlib(value) else "different bytes"
        fast = microseconds(orjson.dumps, value, options.number)
        slow = microseconds(stdlib, value, options.number)
        size = len(stdlib(value))
        print(
            f"{name} ({size:,} bytes, {same}): orjson {fast:8.1f} µs  stdlib {slow:8.1f} µs"
            f"  orjson/stdlib = {fast / slow:.3f}",
            flush=True,
        )
        figure(f"JSON encoding of {name} (µs): orjson vs stdlib", fast, slow)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--number", type=int, default=2000, help="encodings per run")
    return _cli.parse(parser, argv, "200 encodings per run", number=200)


if __name__ == "__main__":
    main(parse_args(sys.argv[1:]))
