"""``pleromad-ctl backup`` and ``restore``: one archive holding a consistent
dump of the database and the local uploads.

The dump is ``pg_dump``'s custom format, taken in one snapshot, so a backup
may run while daemons serve; files are copied after the dump, and since a
file is always stored before the row naming it, every file the dump names
is there to copy.  A restore goes only into an empty data folder (or an
empty external database): it never merges into an instance in use.
Everything here runs in threads (``pleromad-ctl`` calls it off the reactor).
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2

from pleromad import __version__
from pleromad.db import schema

MANIFEST = "pleromad-backup.json"
DUMP = "database.dump"
UPLOADS = "uploads"
FORMAT = 1
# pg_dump and pg_restore of a big instance take a while; an hour is not a hang.
_TOOL_TIMEOUT = 3600.0


class BackupError(Exception):
    """What a backup or restore could not do, in one line for the operator."""


@dataclass(frozen=True)
class Summary:
    schema_version: int
    files: int


# A PostgreSQL client program's path, by name (see DatabaseServer.program).
Programs = Callable[[str], str]


def backup(archive: Path, dsn: str, uploads: Path | None, programs: Programs) -> Summary:
    """Write ``archive``: the manifest, the dump of ``dsn`` and the files
    under ``uploads`` (None: the media live elsewhere, e.g. in S3)."""
    version = _schema_version(dsn)
    folder = archive.resolve().parent
    with tempfile.TemporaryDirectory(dir=folder, prefix=".pleromad-backup-") as scratch:
        dump = Path(scratch) / DUMP
        _tool(programs("pg_dump"), "--format=custom", f"--file={dump}", f"--dbname={dsn}")
        partial = Path(scratch) / "archive.tar.gz"
        files = 0
        with tarfile.open(partial, "w:gz") as tar:
            manifest = {
                "format": FORMAT,
                "pleromad": __version__,
                "schema_version": version,
                "created_at": datetime.now(UTC).isoformat(),
                "uploads": uploads is not None,
            }
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
            tar.add(dump, DUMP)
            if uploads is not None and uploads.is_dir():
                for path in sorted(uploads.rglob("*")):
                    if path.is_file() and not path.is_symlink():
                        tar.add(path, f"{UPLOADS}/{path.relative_to(uploads)}")
                        files += 1
        os.replace(partial, archive)  # whole or absent, never half written
    return Summary(version, files)


def check_restorable(archive: Path) -> dict[str, object]:
    """The archive's manifest, if this pleromad can restore it."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest: dict[str, Any] = json.loads(member.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as e:
        raise BackupError(f"{archive}: not a pleromad backup ({e})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: backup format {manifest.get('format')} is not supported")
    newest = max((m.version for m in schema.known_migrations()), default=0)
    if int(manifest.get("schema_version", 0)) > newest:
        raise BackupError(
            f"{archive} was made by a newer pleromad (schema {manifest['schema_version']},"
            f" this one knows {newest}); restore it with that version"
        )
    return manifest


def refuse_unless_empty_folder(uploads: Path, cluster: Path | None) -> None:
    """A restore never goes into a data folder already in use."""
    if cluster is not None and (cluster / "PG_VERSION").exists():
        raise BackupError(
            f"{cluster} already holds a database cluster; restore into an empty data folder"
        )
    if uploads.exists() and any(uploads.iterdir()):
        raise BackupError(f"{uploads} is not empty; restore into an empty data folder")


def restore(archive: Path, dsn: str, uploads: Path, programs: Programs) -> Summary:
    """Load ``archive`` into the empty database ``dsn`` and ``uploads``."""
    manifest = check_restorable(archive)
    if _schema_has_tables(dsn):
        raise BackupError("the database is not empty; restore into an empty one")
    files = 0
    with (
        tempfile.TemporaryDirectory(prefix="pleromad-restore-") as scratch,
        tarfile.open(archive, "r:*") as tar,
    ):
        tar.extract(DUMP, scratch, filter="data")
        _tool(
            programs("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={dsn}",
            str(Path(scratch) / DUMP),
        )
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(f"{UPLOADS}/"):
                # The "data" filter refuses links, devices and paths that leave the folder.
                tar.extract(member, uploads.parent, filter="data")
                files += 1
    return Summary(int(str(manifest["schema_version"])), files)


def _tool(program: str, *args: str) -> None:
    name = Path(program).name
    try:
        done = subprocess.run(
            [program, *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_TOOL_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BackupError(f"{name}: {e}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{name} failed: {lines[0] if lines else done.returncode}")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o644
    with tempfile.SpooledTemporaryFile() as buffer:
        buffer.write(data)
        buffer.seek(0)
        tar.addfile(info, buffer)


def _schema_version(dsn: str) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        row = cur.fetchone()
    conn.close()
    return int(row[0]) if row else 0


def _schema_has_tables(dsn: str) -> bool:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public')")
        row = cur.fetchone()
    conn.close()
    return bool(row and row[0])
