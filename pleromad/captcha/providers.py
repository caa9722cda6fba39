"""The captcha providers shipped with pleromad.

Each returns a :class:`~.interface.Challenge`; the domain stores its answer in
PostgreSQL, so checking a solution never depends on which node made it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import random
import re
import secrets
from collections.abc import Callable
from typing import Any

from treq.client import HTTPClient
from twisted.internet.defer import Deferred
from twisted.web.client import Agent
from zope.interface import implementer

from pleromad.captcha.interface import CaptchaUnavailable, Challenge, ICaptchaProvider
from pleromad.config import Config
from pleromad.workers import WorkQueue

# Drawings running or waiting at once before more are refused (503);
# [workers] image_queue in the daemon.
DRAWING_QUEUE = 8

# Letters and digits nobody confuses with one another (no 0/O, 1/I/L).
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_LENGTH = 6
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_KOCAPTCHA_TIMEOUT = 10.0
_KOCAPTCHA_MAX_BODY = 64 * 1024


@implementer(ICaptchaProvider)
class NoneProvider:
    """No challenge at all: what clients see while captcha is disabled."""

    name = "none"

    @classmethod
    def from_config(cls, config: Config, reactor: Any) -> NoneProvider:
        return cls()

    def new(self) -> Deferred[Challenge]:
        return Deferred.fromCoroutine(self._new())

    async def _new(self) -> Challenge:
        return Challenge({"type": "none"}, "", "")

    def matches(self, answer: str, solution: str) -> bool:
        return True


@implementer(ICaptchaProvider)
class KocaptchaProvider:
    """A kocaptcha server makes the picture and tells us the answer's MD5.

    ``GET <endpoint>/new`` answers ``{"md5", "token", "url"}``; the client is
    shown ``<endpoint><url>`` and answers under ``token``; the solution is
    right when its MD5 equals the one we kept (case-sensitive, as the
    reference).
    """

    name = "kocaptcha"

    def __init__(self, endpoint: str, http: HTTPClient) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._http = http

    @classmethod
    def from_config(cls, config: Config, reactor: Any) -> KocaptchaProvider:
        agent = Agent(reactor, connectTimeout=_KOCAPTCHA_TIMEOUT)
        return cls(config.captcha.kocaptcha_endpoint, HTTPClient(agent))

    def new(self) -> Deferred[Challenge]:
        return Deferred.fromCoroutine(self._new())

    async def _new(self) -> Challenge:
        try:
            response = await self._http.get(f"{self._endpoint}/new", timeout=_KOCAPTCHA_TIMEOUT)
            body = await response.content()
        except Exception as e:
            raise CaptchaUnavailable(f"kocaptcha unreachable: {e}") from e
        if response.code != 200 or len(body) > _KOCAPTCHA_MAX_BODY:
            raise CaptchaUnavailable(f"kocaptcha answered {response.code}")
        try:
            reply = json.loads(body)
            md5, token, url = reply["md5"], reply["token"], reply["url"]
        except (ValueError, KeyError, TypeError) as e:
            raise CaptchaUnavailable("kocaptcha answered something that is not a captcha") from e
        if not (
            isinstance(md5, str)
            and _MD5.match(md5)
            and isinstance(token, str)
            and token
            and isinstance(url, str)
            and url.startswith("/")
        ):
            raise CaptchaUnavailable("kocaptcha answered something that is not a captcha")
        client = {"type": "kocaptcha", "token": token, "url": self._endpoint + url}
        return Challenge(client, token, md5.lower())

    def matches(self, answer: str, solution: str) -> bool:
        digest = hashlib.md5(solution.encode("utf-8")).hexdigest()
        return hmac.compare_digest(digest, answer.lower())


@implementer(ICaptchaProvider)
class NativeProvider:
    """A distorted text picture drawn here with Pillow, sent to the client
    as a ``data:`` URL; answers compare case-insensitively.  The drawing is
    image work on the CPU pool (:mod:`pleromad.workers`), at most
    ``[workers] image_queue`` at once: past that a request is refused
    (503, Retry-After) rather than piling threads onto the cores."""

    name = "native"

    def __init__(
        self, text_source: Callable[[], str] | None = None, queue: WorkQueue | None = None
    ) -> None:
        self._text_source = text_source or _random_text
        self.queue = queue or WorkQueue(DRAWING_QUEUE)

    @classmethod
    def from_config(cls, config: Config, reactor: Any) -> NativeProvider:
        return cls(queue=WorkQueue(config.workers.image_queue))

    def new(self) -> Deferred[Challenge]:
        return Deferred.fromCoroutine(self._new())

    async def _new(self) -> Challenge:
        text = self._text_source()
        png = await self.queue.run(draw, text)
        url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        token = secrets.token_urlsafe(24)
        return Challenge({"type": "native", "token": token, "url": url}, token, _digest(text))

    def matches(self, answer: str, solution: str) -> bool:
        return hmac.compare_digest(_digest(solution), answer)


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().upper().encode("utf-8")).hexdigest()


def _random_text() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))


def draw(text: str) -> bytes:
    """The challenge picture: each character turned and shifted, crossed by
    lines and specks, slightly blurred.  CPU work: call it in a thread.

    Pillow is imported here, not with the module: the captcha plugins are
    loaded at start whatever the provider, and only a native challenge
    draws (see docs/memory.md)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    shake = random.Random(secrets.randbits(64))
    width, height = 36 * len(text) + 24, 72
    image = Image.new("RGB", (width, height), (245, 245, 240))
    try:
        font: Any = ImageFont.load_default(size=40)
    except (OSError, TypeError):  # Pillow without FreeType: the bitmap font
        font = ImageFont.load_default()
    for index, char in enumerate(text):
        glyph = Image.new("L", (56, 64), 0)
        ImageDraw.Draw(glyph).text((10, 4), char, fill=255, font=font)
        glyph = glyph.rotate(
            shake.uniform(-30, 30), resample=Image.Resampling.BICUBIC, expand=False
        )
        colour = tuple(shake.randint(20, 110) for _ in range(3))
        x = 12 + index * 36 + shake.randint(-4, 4)
        y = shake.randint(-2, 10)
        image.paste(Image.new("RGB", glyph.size, colour), (x, y), glyph)
    canvas = ImageDraw.Draw(image)
    for _ in range(5):
        points = [(shake.randint(0, width), shake.randint(0, height)) for _ in range(2)]
        canvas.line(points, fill=tuple(shake.randint(60, 180) for _ in range(3)), width=2)
    for _ in range(width * height // 40):
        canvas.point(
            (shake.randint(0, width - 1), shake.randint(0, height - 1)),
            fill=tuple(shake.randint(80, 200) for _ in range(3)),
        )
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
