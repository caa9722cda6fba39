"""Choosing the uploader ``[media] backend`` names among the installed plugins."""

from __future__ import annotations

from typing import Any

from pleromad.config import Config
from pleromad.media.interface import IUploader, IUploaderFactory
from pleromad.plugins import choose


def uploader_for(config: Config, reactor: Any) -> IUploader:
    """Build the uploader ``config.media.backend`` names; an unknown or
    ambiguous name is a PluginError, which the daemon reports as a start failure."""
    factory: IUploaderFactory = choose(
        IUploaderFactory, config.media.backend, setting="[media] backend", kind="uploader"
    )
    return factory.build(config, reactor)
