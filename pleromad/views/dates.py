"""Time formats clients expect."""

from __future__ import annotations

from datetime import UTC, datetime


def masto_date(moment: datetime) -> str:
    """Mastodon API: ISO 8601 UTC with real milliseconds (DECISIONS 9)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def twitter_date(moment: datetime) -> str:
    """TwitterAPI: ``Tue Dec 18 16:55:56 +0000 2018``."""
    return moment.astimezone(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")
