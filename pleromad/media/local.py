"""The ``local`` uploader: files under ``<data_dir>/uploads``, served by the
daemon itself at ``[media] base_url`` (``<base_url>/media`` by default)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from zope.interface import implementer

from pleromad.config import Config
from pleromad.media.interface import PATH_PATTERN, ILocalFiles, IUploader, UploadFailed


@implementer(IUploader, ILocalFiles)
class LocalUploader:
    """Writes each file into a folder of its own, off the reactor thread."""

    name = "local"

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self._base_url = base_url.rstrip("/")

    @classmethod
    def from_config(cls, config: Config, reactor: Any) -> LocalUploader:
        return cls(config.server.data_dir / "uploads", config.media.base_url)

    def put(self, path: str, data: bytes, content_type: str) -> Deferred[None]:
        target = self._target(path)
        return _failing_as_upload_error(threads.deferToThread(_write, target, data))

    def delete(self, path: str) -> Deferred[None]:
        target = self._target(path)
        return _failing_as_upload_error(threads.deferToThread(_remove, target, self.root))

    def url(self, path: str) -> str:
        return f"{self._base_url}/{path}"

    def local_file(self, path: str) -> Path | None:
        if not PATH_PATTERN.fullmatch(path):
            return None
        root = self.root.resolve()
        try:
            found = (root / path).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        # A link inside the folder could point anywhere; what it resolves to
        # must still be inside.
        if not found.is_relative_to(root) or not found.is_file():
            return None
        return found

    def _target(self, path: str) -> Path:
        if not PATH_PATTERN.fullmatch(path):
            raise ValueError(f"not a stored file's path: {path!r}")
        return self.root / path


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed into place, so the file is either whole or absent.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _remove(target: Path, root: Path) -> None:
    target.unlink(missing_ok=True)
    folder = target.parent
    if folder != root:
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty or already gone: either is fine


def _failing_as_upload_error(d: Deferred[None]) -> Deferred[None]:
    def translate(failure: Failure) -> Failure:
        if failure.check(OSError):
            raise UploadFailed(f"local uploads: {failure.value}") from failure.value
        return failure

    return d.addErrback(translate)
