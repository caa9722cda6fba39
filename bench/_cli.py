"""The command line every bench script shares: ``--quick`` and the reactor."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet import defer, task


def parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of the script's docstring."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


def parse(
    parser: argparse.ArgumentParser, argv: list[str], quick_help: str, **quick: Any
) -> argparse.Namespace:
    """Parse ``argv`` with ``--quick`` added, which sets the options ``quick``
    names to the small run's values (``bench/run --quick`` checks scripts so)."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    options = parser.parse_args(argv)
    if options.quick:
        vars(options).update(quick)
    return options


def react(
    main: Callable[[Any, argparse.Namespace], Coroutine[Any, Any, None]],
    options: argparse.Namespace,
) -> None:
    """Run ``main(reactor, options)`` on the reactor until it ends."""
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, options)))
