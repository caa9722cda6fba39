"""Deferred helpers for waiting on work that must not be cancelled.

Cancelling a txpostgres operation issues a blocking libpq cancel and can
leave a connection mid-transaction, so work against the database is
shielded; a caller that wants to give up waits less rather than cancels.
"""

from __future__ import annotations

from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

T = TypeVar("T")


def uncancellable(inner: Deferred[T]) -> Deferred[T]:
    """A Deferred with ``inner``'s result whose cancellation leaves ``inner`` be."""
    outer: Deferred[T] = Deferred(lambda _: None)

    def forward(result: Any) -> None:
        if outer.called:
            return None  # given up on by its caller; nobody wants the result
        if isinstance(result, Failure):
            outer.errback(result)
        else:
            outer.callback(result)
        return None

    inner.addBoth(forward)
    return outer


def within(clock: IReactorTime, seconds: float, inner: Deferred[T]) -> Deferred[T]:
    """``inner``'s result, or ``defer.TimeoutError`` after ``seconds``;
    ``inner`` goes on either way."""
    outer = uncancellable(inner)

    def time_out() -> None:
        if not outer.called:
            outer.errback(defer.TimeoutError(seconds))

    timer = clock.callLater(seconds, time_out)

    def stop_timer(result: Any) -> Any:
        if timer.active():
            timer.cancel()
        return result

    return outer.addBoth(stop_timer)
