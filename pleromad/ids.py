"""Ids in URLs and parameters: decimal text naming a PostgreSQL bigint."""

from __future__ import annotations

# The largest PostgreSQL bigint: ids, and the largest OFFSET a query takes.
BIGINT_MAX = 2**63 - 1


def parse_id(text: str) -> int | None:
    """The id ``text`` names (surrounding spaces allowed), or None when it
    cannot name one: not all ASCII digits, or beyond a bigint."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= BIGINT_MAX else None
