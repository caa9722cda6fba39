"""What the running daemon's parts share, built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from pleromad.config import Config
from pleromad.db.pool import Database


@dataclass(frozen=True)
class Runtime:
    config: Config
    db: Database
    clock: IReactorTime
    # Signs session cookies; shared by every node through the settings table.
    cookie_secret: bytes
