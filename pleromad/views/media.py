"""The Attachment entity (mastodon-subset §2.5)."""

from __future__ import annotations

from typing import Any

from pleromad.model import Media

# The bundled default mascot (pleromad/static/images).
DEFAULT_MASCOT_ID = "default-mascot"
DEFAULT_MASCOT_PATH = "/images/mascot.png"


def attachment_type(mime_type: str) -> str:
    """``image``, ``video`` or ``audio`` when the type says so, else ``unknown``."""
    for kind in ("image", "video", "audio"):
        if kind in mime_type:
            return kind
    return "unknown"


def attachment(id: str, url: str, mime_type: str, description: str) -> dict[str, Any]:
    return {
        "id": id,
        "url": url,
        "remote_url": url,
        "preview_url": url,
        "text_url": url,
        "type": attachment_type(mime_type),
        "description": description,
        "pleroma": {"mime_type": mime_type},
    }


def render_attachment(media: Media) -> dict[str, Any]:
    return attachment(str(media.id), media.url, media.mime_type, media.description)


def render_default_mascot(base_url: str) -> dict[str, Any]:
    """The mascot of an account that chose none, with an absolute URL (DECISIONS 19)."""
    return attachment(DEFAULT_MASCOT_ID, base_url + DEFAULT_MASCOT_PATH, "image/png", "mascot.png")
