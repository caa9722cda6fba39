"""Rendered entities kept for reuse while the rows they came from are unchanged.

The viewer-independent part of a Status or an Account costs the same for
every reader; it is kept under the version of the rows it was rendered
from (see :mod:`pleromad.versioned`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from pleromad.versioned import Versioned

# About 2 kB of Python objects per entry: 20 MB at most.
RENDERED_MAX = 10_000


class RenderCache(Versioned):
    """Rendered parts by (kind, id) and version; what :meth:`render` returns
    must be copied, never changed."""

    def __init__(self, size: int = RENDERED_MAX) -> None:
        super().__init__(size)

    def render(
        self, kind: str, ident: int, version: Hashable, render: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The part of ``kind`` ``ident`` at ``version``: kept, or ``render()``ed and kept."""
        value: dict[str, Any] | None = self.get(kind, ident, version)
        if value is None:
            value = render()
            self.put(kind, ident, version, value)
        return value
