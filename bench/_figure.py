"""The one machine-readable line every bench script prints per figure (see
bench/README.md): ``bench/run`` collects these into its table."""

from __future__ import annotations


def figure(
    name: str,
    daemon: float,
    baseline: float | None,
    goal: str = "-",
    *,
    digits: str = ".4g",
    ratio_digits: str = ".3f",
) -> None:
    """Print ``FIGURE<TAB>name<TAB>daemon<TAB>baseline<TAB>ratio<TAB>goal``,
    the values formatted by ``digits`` and the ratio by ``ratio_digits``; a
    figure without a baseline has ``-`` for it and for the ratio."""
    measured = (
        "-\t-" if baseline is None else f"{baseline:{digits}}\t{daemon / baseline:{ratio_digits}}"
    )
    print(f"FIGURE\t{name}\t{daemon:{digits}}\t{measured}\t{goal}", flush=True)
