"""Values kept for reuse while the rows they came from are unchanged.

A value is kept under its row's version, a number the store reads together
with the row (PostgreSQL's ``xmin``, which every UPDATE changes).  It is
used only when the version read by the current request equals the one it
was made from, so a daemon never answers from a row that another daemon on
the same database has since changed, and nothing needs to be told to
forget anything.  Entries are keyed by (kind, id), so a newer version
replaces the older one instead of sitting beside it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class Versioned:
    """At most ``size`` values, the least recently used forgotten first.

    What :meth:`get` returns is shared by every caller: it must never be
    changed."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, int], tuple[Hashable, Any]] = OrderedDict()

    def get(self, kind: str, ident: int, version: Hashable) -> Any:
        """The value of ``kind`` ``ident`` at ``version``, or None."""
        key = (kind, ident)
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, kind: str, ident: int, version: Hashable, value: Any) -> None:
        key = (kind, ident)
        self._entries[key] = (version, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
