"""Where the database is: the configured DSN, or the embedded server."""

from __future__ import annotations

from pleromad.config import Config
from pleromad.db.embedded import EmbeddedPostgres, client_program


class DatabaseServer:
    """Starts the embedded PostgreSQL when ``[database] dsn`` is empty.

    The daemon and ``pleromad-ctl`` both go through here, so that pointed at
    the same configuration they reach the same database.
    """

    def __init__(self, config: Config) -> None:
        self._dsn = config.database.dsn
        self._embedded = (
            None if self._dsn else EmbeddedPostgres(config.server.data_dir / "postgres")
        )

    async def start(self, *, create: bool = True) -> str:
        """The DSN to connect to, once the server accepts connections; an
        embedded cluster is made on first use only when ``create``."""
        if self._embedded is None:
            return self._dsn
        return await self._embedded.start(create=create)

    async def stop(self) -> None:
        """Leaves the embedded server; the last process using it stops it."""
        if self._embedded is not None:
            await self._embedded.stop()

    @property
    def embedded(self) -> bool:
        """Whether the database is the embedded server under the data folder."""
        return self._embedded is not None

    def program(self, name: str) -> str:
        """PostgreSQL's client program ``name`` suited to this server."""
        if self._embedded is not None:
            return self._embedded.program(name)
        return client_program(name)
