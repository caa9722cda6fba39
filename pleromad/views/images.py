"""Profile pictures: where a stored one is, and the bundled defaults."""

from __future__ import annotations

from typing import Any

from pleromad.model import User


def image_url(stored: dict[str, Any] | None) -> str | None:
    """The address of a stored image: an ActivityStreams ``Image`` whose
    ``url`` is a string or a list of links or strings (Pleroma stores a
    list of links), or None."""
    if not stored:
        return None
    url = stored.get("url")
    if isinstance(url, list):
        url = url[0] if url else None
    if isinstance(url, dict):
        url = url.get("href")
    return url if isinstance(url, str) and url else None


def avatar_url(user: User, base_url: str) -> str:
    return image_url(user.avatar) or f"{base_url}/images/avi.png"


def banner_url(user: User, base_url: str) -> str:
    return image_url(user.banner) or f"{base_url}/images/banner.png"
