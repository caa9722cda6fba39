"""The custom emoji table the daemon serves, and the object that reloads it.

An :class:`EmojiTable` is immutable and holds both API answers as prebuilt
JSON bytes, so serving them costs a dictionary lookup.  :class:`EmojiSet`
owns the current table: it loads the folder in a thread and swaps the new
table in whole, so a request sees either the old table or the new one.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from twisted.internet.defer import DeferredLock
from twisted.internet.threads import deferToThread
from twisted.logger import Logger

from pleromad.emoji.loader import (
    DEFAULT_TAG,
    MAX_FILE_BYTES,
    URL_PREFIX,
    EmojiLoadError,
    Entry,
    Loaded,
    load_folder,
)
from pleromad.views.prebuilt import Prebuilt

log = Logger()

# Served when [emoji] dir is empty.
BUNDLED = Path(__file__).resolve().parent.parent / "static" / "emoji"


@dataclass(frozen=True)
class EmojiFile:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class EmojiTable:
    root: Path | None
    emoji: tuple[Entry, ...]  # sorted by shortcode
    # relpath under /emoji/ -> the entry whose file it is; nothing else is served.
    files: Mapping[str, Entry]
    pleroma: Prebuilt  # GET /api/pleroma/emoji
    mastodon: Prebuilt  # GET /api/v1/custom_emojis


def image_url(entry: Entry) -> str:
    """The emoji's path on this server, e.g. ``/emoji/blobs/blob%20cat.png``."""
    return URL_PREFIX + quote(entry.relpath)


def pleroma_emoji(entries: tuple[Entry, ...]) -> dict[str, Any]:
    """``GET /api/pleroma/emoji``: shortcode -> its relative path and tags."""
    return {e.shortcode: {"image_url": image_url(e), "tags": list(e.tags)} for e in entries}


def custom_emoji(entry: Entry, base_url: str) -> dict[str, Any]:
    """One item of ``GET /api/v1/custom_emojis``: absolute URLs, shown in pickers."""
    url = base_url.rstrip("/") + image_url(entry)
    return {
        "shortcode": entry.shortcode,
        "url": url,
        "static_url": url,
        "visible_in_picker": True,
        "tags": list(entry.tags),
        "category": ",".join(tag for tag in entry.tags if tag != DEFAULT_TAG),
    }


def build_table(loaded: Loaded | None, base_url: str) -> EmojiTable:
    """The table of what ``load_folder`` found (``None``: an empty table)."""
    entries = loaded.entries if loaded else ()
    return EmojiTable(
        root=loaded.root if loaded else None,
        emoji=entries,
        files=MappingProxyType({e.relpath: e for e in entries}),
        pleroma=Prebuilt.of(pleroma_emoji(entries)),
        mastodon=Prebuilt.of([custom_emoji(e, base_url) for e in entries]),
    )


def load_table(folder: Path, base_url: str) -> tuple[EmojiTable, tuple[str, ...]]:
    """Read ``folder`` and build its table, with the loader's warnings; blocking."""
    loaded = load_folder(folder)
    return build_table(loaded, base_url), loaded.warnings


def read_emoji_file(root: Path, entry: Entry) -> EmojiFile | None:
    """The bytes of a table's file, or None when it went away or now leads
    outside ``root``; blocking."""
    try:
        file = (root / entry.relpath).resolve(strict=True)
        if not file.is_relative_to(root):
            return None
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                return None
            body = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, RuntimeError):
        return None
    return EmojiFile(body, entry.content_type) if len(body) <= MAX_FILE_BYTES else None


class EmojiSet:
    """The live emoji table of one daemon, reloadable while it serves.

    ``folder`` is ``[emoji] dir`` (None: the bundled set); ``base_url`` makes
    the absolute URLs of ``/api/v1/custom_emojis``.
    """

    def __init__(self, folder: Path | None, base_url: str) -> None:
        self.folder = folder or BUNDLED
        self._base_url = base_url
        self._table: EmojiTable | None = None
        # One load at a time, so the last reload asked for is the one that stays.
        self._lock = DeferredLock()

    async def load(self) -> EmojiTable:
        """Read the folder (in a thread) and serve what it holds from now on.

        Raises :class:`EmojiLoadError` when the folder cannot be read; the
        table in use is then kept.  Lines that cannot be used are logged and
        skipped.
        """
        await self._lock.acquire()
        try:
            table, warnings = await deferToThread(load_table, self.folder, self._base_url)
            for warning in warnings:
                log.warn("emoji: {warning}", warning=warning)
            self._table = table
            log.info(
                "emoji: {count} loaded from {folder}", count=len(table.emoji), folder=self.folder
            )
            return table
        finally:
            self._lock.release()

    async def reload(self) -> bool:
        """:meth:`load`, for SIGHUP: never raises; False (logged) when the
        folder could not be read and the table in use was kept."""
        try:
            await self.load()
        except EmojiLoadError as e:
            log.error("emoji: reload failed, keeping the emoji in use: {why}", why=e)
            return False
        except Exception:
            log.failure("emoji: reload failed, keeping the emoji in use")
            return False
        return True

    @property
    def loaded(self) -> EmojiTable | None:
        """The table in use, if one was loaded yet; never waits."""
        return self._table

    async def current(self) -> EmojiTable:
        """The table in use; the first call loads it if nobody did yet (an
        empty table, logged, when that fails)."""
        if self._table is None and not await self.reload() and self._table is None:
            self._table = build_table(None, self._base_url)
        assert self._table is not None
        return self._table

    async def read_file(self, relpath: str) -> EmojiFile | None:
        """The file served at ``/emoji/<relpath>``: only files of the table's
        emoji, read in a thread; None for anything else."""
        table = await self.current()
        entry = table.files.get(relpath)
        if entry is None or table.root is None:
            return None
        result: EmojiFile | None = await deferToThread(read_emoji_file, table.root, entry)
        return result
