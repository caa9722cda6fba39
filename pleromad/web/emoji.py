"""Custom emoji: `/api/pleroma/emoji`, `/api/v1/custom_emojis` and the files at `/emoji/*`."""

from __future__ import annotations

from pleromad.runtime import Runtime
from pleromad.web.base import api_app


class EmojiApi:
    app = api_app()
    prefixes = ("/api/pleroma/emoji", "/api/v1/custom_emojis", "/emoji")

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
