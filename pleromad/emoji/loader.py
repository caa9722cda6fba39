"""Reading an emoji folder into emoji entries; blocking, so run it in a thread.

The folder (``[emoji] dir``, or the bundled set) is what ``/emoji/`` serves:

- every sub-folder is a **pack**, read in name order.  A pack with an
  ``emoji.txt`` lists its emoji there; a pack without one contributes every
  ``.png``, ``.gif`` and ``.webp`` file inside it, recursively, in path order:
  shortcode = the file name without its extension, tags = ``[<pack name>]``;
- then the folder's own ``emoji.txt``, so its lines win over the packs.

An ``emoji.txt`` line is ``shortcode, path[, tag, ...]``: trimmed, then split
on ``,\\s*`` as the reference does.  Without tags an emoji gets the pack's
name in a pack's file and ``Custom`` (the reference's default group) in the
top file; empty tags are dropped.  ``path`` is either ``/emoji/<path inside
the folder>`` or relative to the file's own folder.  Blank lines and lines
starting with ``#`` are skipped silently; any other line that cannot be used
is skipped with a warning naming its file and line, and never fails the load.

A later entry with the same shortcode replaces the earlier one.  Hidden
files and folders (``.name``) are ignored.  Images lying in the folder itself
are served only when its ``emoji.txt`` lists them.

Safety: a shortcode must match :data:`SHORTCODE`; a path may not contain
``..``, ``.``, empty or hidden segments, backslashes or control characters,
nor be absolute outside ``/emoji/``; the file must exist, be a regular file
of at most :data:`MAX_FILE_BYTES`, and stay inside the folder once every
symlink is resolved.  The same holds for every ``emoji.txt`` read.

Only a folder (or an ``emoji.txt``) that cannot be read at all, or an
``emoji.txt`` that is not UTF-8, fails the load: :class:`EmojiLoadError`.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Pleroma's and Mastodon's shortcodes, with room for pack-style names.
SHORTCODE = re.compile(r"[A-Za-z0-9_+-]{1,100}")
CONTENT_TYPES = {".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}
MAX_FILE_BYTES = 8 * 1024 * 1024
# Two-field lines of the top emoji.txt: the reference's default group.
DEFAULT_TAG = "Custom"
LIST_NAME = "emoji.txt"
URL_PREFIX = "/emoji/"

_FIELD_SEPARATOR = re.compile(r",\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class EmojiLoadError(Exception):
    """The emoji folder could not be read; the message is one line for operators."""


@dataclass(frozen=True)
class Entry:
    shortcode: str
    # Relative to the folder, "/"-separated: the file is served at /emoji/<relpath>.
    relpath: str
    tags: tuple[str, ...]
    # The file itself, every symlink resolved; inside the folder.
    file: Path
    content_type: str


@dataclass(frozen=True)
class Loaded:
    root: Path
    entries: tuple[Entry, ...]  # one per shortcode, sorted by shortcode
    warnings: tuple[str, ...]


def load_folder(folder: Path) -> Loaded:
    """Read ``folder`` as described above; raises :class:`EmojiLoadError`."""
    try:
        root = folder.resolve(strict=True)
        if not root.is_dir():
            raise EmojiLoadError(f"emoji folder {folder} is not a folder")
        children = sorted(os.scandir(root), key=lambda child: child.name)
    except OSError as e:
        raise EmojiLoadError(f"cannot read emoji folder {folder}: {e.strerror or e}") from e
    loader = _Loader(root)
    loose: list[str] = []
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir():
            loader.read_pack(child.name)
        elif child.name != LIST_NAME and _content_type(child.name):
            loose.append(child.name)
    if os.path.lexists(root / LIST_NAME):
        loader.read_list(LIST_NAME, "", (DEFAULT_TAG,))
    for name in loose:
        if name not in loader.listed:
            loader.warn(name, "an image outside any pack that emoji.txt does not list; ignored")
    entries = tuple(sorted(loader.table.values(), key=lambda e: e.shortcode))
    return Loaded(root, entries, tuple(loader.warnings))


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.table: dict[str, Entry] = {}
        self.warnings: list[str] = []
        self.listed: set[str] = set()

    def warn(self, where: str, why: str) -> None:
        self.warnings.append(f"{where}: {why}")

    def read_pack(self, pack: str) -> None:
        if _segment_problem(pack):
            self.warn(f"{pack}/", "a folder name we cannot serve; pack skipped")
            return
        if not self._inside(self.root / pack):
            self.warn(f"{pack}/", "the pack leads outside the emoji folder; pack skipped")
            return
        if os.path.lexists(self.root / pack / LIST_NAME):
            self.read_list(f"{pack}/{LIST_NAME}", pack, (pack,))
            return
        for relpath in self._scan(pack):
            self.add(PurePosixPath(relpath).stem, relpath, (pack,), relpath)

    def _scan(self, pack: str) -> list[str]:
        found = []
        for folder, subfolders, files in os.walk(self.root / pack):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            base = Path(folder).relative_to(self.root).as_posix()
            found += [
                f"{base}/{name}"
                for name in sorted(files)
                if not name.startswith(".") and _content_type(name)
            ]
        return found

    def read_list(self, relpath: str, base: str, default_tags: tuple[str, ...]) -> None:
        """Read the emoji.txt at ``relpath``, whose relative paths start at ``base``."""
        path = self.root / relpath
        if not self._inside(path):
            self.warn(relpath, "leads outside the emoji folder; file skipped")
            return
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as e:
            raise EmojiLoadError(f"cannot read {path}: {e.strerror or e}") from e
        except UnicodeDecodeError as e:
            raise EmojiLoadError(f"{path} is not UTF-8 (byte {e.start})") from e
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{relpath}:{number}"
            fields = [field.strip() for field in _FIELD_SEPARATOR.split(line)]
            if len(fields) < 2:
                self.warn(where, "expected 'shortcode, path[, tag, ...]'; line skipped")
                continue
            shortcode, path_text, *tags = fields
            target = self._line_path(path_text, base, where)
            if target is not None:
                self.listed.add(target)
                self.add(shortcode, target, tuple(t for t in tags if t) or default_tags, where)

    def _line_path(self, text: str, base: str, where: str) -> str | None:
        if text.startswith(URL_PREFIX):
            return text[len(URL_PREFIX) :]
        if text.startswith("/") or "://" in text:
            self.warn(where, f"path {text!r} is not under {URL_PREFIX}; line skipped")
            return None
        return f"{base}/{text}" if base else text

    def add(self, shortcode: str, relpath: str, tags: tuple[str, ...], where: str) -> None:
        if SHORTCODE.fullmatch(shortcode) is None:
            self.warn(where, f"shortcode {shortcode!r} is not [A-Za-z0-9_+-]; skipped")
            return
        file, why = self._check_file(relpath)
        if file is None:
            self.warn(where, f"{why}; skipped")
            return
        content_type = _content_type(relpath)
        assert content_type is not None
        self.table[shortcode] = Entry(shortcode, relpath, tags, file, content_type)

    def _check_file(self, relpath: str) -> tuple[Path | None, str]:
        problem = next(filter(None, map(_segment_problem, relpath.split("/"))), None)
        if problem:
            return None, f"path {relpath!r} {problem}"
        if _content_type(relpath) is None:
            return None, f"{relpath!r} is not a .png, .gif or .webp file"
        try:
            file = (self.root / relpath).resolve(strict=True)
            info = file.stat()
        except (OSError, RuntimeError):
            return None, f"no file {relpath!r}"
        if not file.is_relative_to(self.root):
            return None, f"{relpath!r} leads outside the emoji folder"
        if not stat.S_ISREG(info.st_mode):
            return None, f"{relpath!r} is not a regular file"
        if info.st_size > MAX_FILE_BYTES:
            return None, f"{relpath!r} is larger than {MAX_FILE_BYTES} bytes"
        return file, ""

    def _inside(self, path: Path) -> bool:
        try:
            return path.resolve(strict=True).is_relative_to(self.root)
        except (OSError, RuntimeError):
            return False


def _segment_problem(segment: str) -> str:
    """Why one "/"-separated segment of a path is refused, or ""."""
    if "\\" in segment or _CONTROL.search(segment):
        return "has a backslash or control character"
    if segment == "..":
        return "has a '..' segment"
    if segment in ("", "."):
        return "has an empty or '.' segment"
    if segment.startswith("."):
        return "names a hidden file or folder"
    return ""


def _content_type(name: str) -> str | None:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower())
