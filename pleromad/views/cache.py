"""Rendered entities kept for reuse while the rows they came from are unchanged.

The viewer-independent part of a Status or an Account costs the same for
every reader; it is kept here under the row's version, a value the store
reads together with the row (PostgreSQL's ``xmin``, which every UPDATE
changes).  An entry is used only when the version read with the rows of the
current request equals the one it was rendered from, so a daemon never
answers from a row another daemon on the same database has since changed,
and nothing needs to be told to forget anything.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

# About 2 kB of Python objects per entry: 20 MB at most.
RENDERED_MAX = 10_000


class RenderCache:
    """At most ``size`` rendered parts, the least recently used forgotten first.

    Entries are keyed by (kind, id), so a newer version replaces the older
    one instead of sitting beside it.  What :meth:`get` returns is shared
    by every caller: it must be copied, never changed.
    """

    def __init__(self, size: int = RENDERED_MAX) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, int], tuple[Hashable, dict[str, Any]]] = OrderedDict()

    def get(
        self, kind: str, ident: int, version: Hashable, render: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The part of ``kind`` ``ident`` at ``version``: kept, or ``render()``ed and kept."""
        key = (kind, ident)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == version:
            self.hits += 1
            self._entries.move_to_end(key)
            return entry[1]
        self.misses += 1
        value = render()
        self._entries[key] = (version, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
