"""The one JSON encoder of every answer the daemon writes.

orjson, chosen by measurement (``bench/json_encoding.py``: a page of 20
Status entities encodes about 15 times faster than with the standard
library, to the same bytes): UTF-8, compact, keys in their insertion order,
no NaN (orjson writes ``null`` for it).
"""

from __future__ import annotations

from typing import Any

import orjson


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON text in UTF-8."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        # Keys that are not strings (numbers): written as strings, as the
        # standard library does; slower, so only when needed.
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
