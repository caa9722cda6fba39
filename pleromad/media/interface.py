"""What an uploader provides, and the plugin that builds one.

Callers choose every file's path themselves (see :func:`new_path`): it is
unguessable, made of URL-safe characters only, and the same string serves as
a folder path on disk or as an object key in an S3-compatible bucket, so a
backend only stores bytes under a name and says where they can be fetched.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from pleromad.config import Config

# The characters a stored name keeps from the client's file name.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_STEM_LENGTH = 64

# A path new_path makes: "<22 random URL-safe characters>/<name>.<ext>".
PATH_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}/[A-Za-z0-9][A-Za-z0-9._-]{0,80}")


class UploadFailed(Exception):
    """The backend could not store or remove a file; ``str()`` is one line."""


class IUploader(Interface):
    """Stores uploaded files somewhere they can be fetched by URL."""

    name = Attribute("The backend's name, as ``[media] backend`` spells it.")

    def put(path: str, data: bytes, content_type: str) -> Deferred[None]:
        """Store ``data`` (bytes) under ``path`` (from :func:`new_path`).

        ``content_type`` is the type the server decided from the bytes, for
        backends that serve files themselves.  Returns a ``Deferred[None]``
        that fires once the file is durable, or fails (preferably with
        :class:`UploadFailed`).  Must not block the reactor.
        """

    def delete(path: str) -> Deferred[None]:
        """Remove the file at ``path``; a ``Deferred[None]``.  Removing a file
        that is not there succeeds, so deletions can be retried."""

    def url(path: str) -> str:
        """The absolute URL clients fetch the file at ``path`` from (a str)."""


class ILocalFiles(Interface):
    """An uploader whose files this daemon serves itself at ``/media/``."""

    def local_file(path: str) -> Path | None:
        """The ``pathlib.Path`` of the regular file stored under ``path``, or
        None when there is none (or ``path`` could name anything outside the
        backend's folder)."""


class IUploaderFactory(Interface):
    """The Twisted plugin object (it also provides ``IPlugin``) for one backend."""

    name = Attribute("The name ``[media] backend`` selects this backend by (a str).")

    def build(config: Config, reactor: Any) -> IUploader:
        """Return an :class:`IUploader` for ``config`` (a ``pleromad.config.Config``).

        Called once at start, on the reactor thread.  Raise ``ValueError``
        with a one-line message if the configuration cannot work.
        """


def new_path(filename: str, extension: str) -> str:
    """A fresh, unguessable path for a file the client called ``filename``,
    ending in ``extension`` (which the server chose, never the client)."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    stem = _UNSAFE.sub("_", stem).strip("._-")[:_STEM_LENGTH].strip("._-") or "file"
    return f"{secrets.token_urlsafe(16)}/{stem}.{extension}"
