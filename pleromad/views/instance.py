"""The Mastodon Instance entity (``GET /api/v1/instance``)."""

from __future__ import annotations

from typing import Any

from pleromad import __version__
from pleromad.config import Config

# Mastodon.py gates features on the leading X.Y.Z; 2.7.2 is what Pleroma claimed.
MASTODON_VERSION = "2.7.2"

# The reference's defaults; polls are not configurable here.
POLL_LIMITS = {
    "max_options": 20,
    "max_option_chars": 200,
    "min_expiration": 0,
    "max_expiration": 31_536_000,
}


def version() -> str:
    return f"{MASTODON_VERSION} (compatible; Pleroma {__version__})"


def streaming_url(base_url: str) -> str:
    """``base_url`` with http→ws and https→wss."""
    scheme, rest = base_url.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"


def render_instance(
    config: Config, *, user_count: int, status_count: int = 0, domain_count: int = 0
) -> dict[str, Any]:
    base_url = config.server.base_url
    instance = config.instance
    return {
        "uri": base_url,
        "title": instance.name,
        "description": instance.description,
        "version": version(),
        "email": instance.email,
        "urls": {"streaming_api": streaming_url(base_url)},
        "stats": {
            "user_count": user_count,
            "status_count": status_count,
            "domain_count": domain_count,
        },
        "thumbnail": f"{base_url}/instance/thumbnail.jpeg",
        "languages": ["en"],
        "registrations": instance.registrations_open,
        "max_toot_chars": instance.status_limit,
        "upload_limit": instance.upload_limit,
        "avatar_upload_limit": instance.avatar_upload_limit,
        "banner_upload_limit": instance.banner_upload_limit,
        "background_upload_limit": instance.background_upload_limit,
        "poll_limits": dict(POLL_LIMITS),
        "invites_enabled": instance.invites_enabled,
        "account_activation_required": instance.account_activation_required,
    }
