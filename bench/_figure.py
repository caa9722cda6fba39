"""The one machine-readable line every bench script prints per figure (see
bench/README.md): ``bench/run`` collects these into its table."""

from __future__ import annotations


def figure(name: str, daemon: float, baseline: float, ratio: float, goal: str = "-") -> None:
    """Print ``FIGURE<TAB>name<TAB>daemon<TAB>baseline<TAB>ratio<TAB>goal``."""
    print(f"FIGURE\t{name}\t{daemon:.4g}\t{baseline:.4g}\t{ratio:.3f}\t{goal}", flush=True)
