"""The Attachment entity (mastodon-subset §2.5)."""

from __future__ import annotations

from typing import Any

from pleromad.model import AttachmentVersion, Media

# The bundled default mascot (pleromad/static/images).
DEFAULT_MASCOT_ID = "default-mascot"
DEFAULT_MASCOT_PATH = "/images/mascot.png"


def attachment_type(mime_type: str) -> str:
    """``image``, ``video`` or ``audio`` when the type says so, else ``unknown``."""
    for kind in ("image", "video", "audio"):
        if kind in mime_type:
            return kind
    return "unknown"


def attachment(
    id: str,
    url: str,
    mime_type: str,
    description: str,
    *,
    blurhash: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> dict[str, Any]:
    """An Attachment; ``url`` is ours, or the remote file of a remote post's
    attachment (which is never copied here).  As Pleroma's, ``meta`` is there
    only when the size is known."""
    entity: dict[str, Any] = {
        "id": id,
        "url": url,
        "remote_url": url,
        "preview_url": url,
        "text_url": url,
        "type": attachment_type(mime_type),
        "description": description,
        "blurhash": blurhash,
        "pleroma": {"mime_type": mime_type},
    }
    if width and height:
        entity["meta"] = {
            "original": {
                "width": width,
                "height": height,
                "size": f"{width}x{height}",
                "aspect": width / height,
            }
        }
    return entity


def render_attachment(media: Media | AttachmentVersion) -> dict[str, Any]:
    """An attachment as it is, or as an earlier version of its post showed it."""
    return attachment(
        str(media.id),
        media.url,
        media.mime_type,
        media.description,
        blurhash=media.blurhash,
        width=media.width,
        height=media.height,
    )


def render_default_mascot(base_url: str) -> dict[str, Any]:
    """The mascot of an account that chose none, with an absolute URL (DECISIONS 19)."""
    return attachment(DEFAULT_MASCOT_ID, base_url + DEFAULT_MASCOT_PATH, "image/png", "mascot.png")
