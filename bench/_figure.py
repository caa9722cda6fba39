"""The one machine-readable line every bench script prints per figure (see
bench/README.md): ``bench/run`` collects these into its table."""

from __future__ import annotations


def figure(name: str, daemon: float, baseline: float | None, goal: str = "-") -> None:
    """Print ``FIGURE<TAB>name<TAB>daemon<TAB>baseline<TAB>ratio<TAB>goal``;
    a figure without a baseline has ``-`` for it and for the ratio."""
    measured = "-\t-" if baseline is None else f"{baseline:.4g}\t{daemon / baseline:.3f}"
    print(f"FIGURE\t{name}\t{daemon:.4g}\t{measured}\t{goal}", flush=True)
