"""A scratch folder with an embedded PostgreSQL for one bench run.

Durability is off (a bench measures the daemon, not the disk), and the
folder goes when the run ends, however it ends.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgres

FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class Scratch:
    """The run's folder (``path``) and its PostgreSQL server (``dsn``)."""

    def __init__(self, reactor: Any, path: Path, dsn: str) -> None:
        self._reactor = reactor
        self.path = path
        self.dsn = dsn

    async def migrated(self, name: str | None = None) -> str:
        """The DSN of a migrated database: the server's own, or a new one
        called ``name`` (for runs with a server per database)."""
        dsn = self.dsn
        if name is not None:
            from tests.conftest import PgServer

            admin = PgServer(self.dsn)
            admin.admin(f"CREATE DATABASE {name}")
            dsn = admin.dsn_for(name)
        await schema.migrate(self._reactor, dsn)
        return dsn


@asynccontextmanager
async def scratch_postgres(reactor: Any, prefix: str = "pleromad-bench-") -> AsyncIterator[Scratch]:
    """A fresh folder holding a started embedded PostgreSQL; both go on exit."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    embedded = EmbeddedPostgres(path / "postgres", settings=FAST_SETTINGS)
    try:
        yield Scratch(reactor, path, await embedded.start())
    finally:
        await embedded.stop()
        shutil.rmtree(path, ignore_errors=True)
