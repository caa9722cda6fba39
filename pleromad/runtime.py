"""What the running daemon's parts share, built once at start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twisted.internet.interfaces import IReactorPluggableNameResolver, IReactorTime

from pleromad.auth.passwords import PasswordHasher
from pleromad.captcha.interface import ICaptchaProvider
from pleromad.captcha.plugins import provider_for
from pleromad.config import Config
from pleromad.db.pool import Database
from pleromad.domain.rate_limits import RateLimiter
from pleromad.emoji import EmojiSet
from pleromad.federation.fetch import Fetcher
from pleromad.media.interface import IUploader
from pleromad.media.plugins import uploader_for
from pleromad.views.cache import RenderCache
from pleromad.workers import WorkQueue


# Compared by identity: each one is the context of one running daemon (or test).
@dataclass(frozen=True, eq=False)
class Runtime:
    config: Config
    db: Database
    clock: IReactorTime
    # Signs session cookies; shared by every node through the settings table.
    cookie_secret: bytes
    passwords: PasswordHasher
    limiter: RateLimiter
    captcha: ICaptchaProvider
    # Stores uploaded files; chosen by [media] backend.
    uploader: IUploader
    # Custom emoji; reloaded on SIGHUP.
    emoji: EmojiSet
    # The guarded HTTP client of federation (fetches and deliveries).
    fetcher: Fetcher
    # Checking and re-encoding uploaded images, in the CPU pool.
    images: WorkQueue
    # The viewer-independent parts of Status and Account entities, kept by
    # the versions of their rows (several daemons may share the database).
    renders: RenderCache = field(default_factory=RenderCache)


def build_runtime(
    config: Config,
    db: Database,
    clock: Any,
    cookie_secret: bytes,
    passwords: PasswordHasher | None = None,
    *,
    fetcher: Fetcher | None = None,
) -> Runtime:
    if fetcher is None:
        fetcher = Fetcher(
            _network_reactor(clock),
            config.federation,
            allow_http=config.server.base_url.startswith("http:"),
            clock=clock,
        )
    return Runtime(
        config=config,
        db=db,
        clock=clock,
        cookie_secret=cookie_secret,
        passwords=passwords or PasswordHasher(queue=WorkQueue(config.workers.password_queue)),
        limiter=RateLimiter(config.rate_limits, db, clock),
        captcha=provider_for(config, clock),
        uploader=uploader_for(config, clock),
        emoji=EmojiSet(config.emoji.dir, config.server.base_url),
        fetcher=fetcher,
        images=WorkQueue(config.workers.image_queue),
    )


def _network_reactor(clock: Any) -> Any:
    """``clock`` when it is a reactor; the global one when a test drives time with a Clock."""
    if IReactorPluggableNameResolver.providedBy(clock):
        return clock
    from twisted.internet import reactor

    return reactor
