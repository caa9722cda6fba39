"""Captcha: the providers, GET /api/pleroma/captcha and the check at registration.

The kocaptcha service is a small real Twisted web server on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted
from PIL import Image
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import Clock
from twisted.web.resource import Resource
from twisted.web.server import Site
from zope.interface.verify import verifyObject

from pleromad.captcha.interface import ICaptchaProvider
from pleromad.captcha.plugins import provider_for
from pleromad.captcha.providers import KocaptchaProvider, NativeProvider, NoneProvider
from pleromad.config import Config
from pleromad.db.pool import Database
from pleromad.domain import captcha
from pleromad.plugins import UnknownPlugin
from pleromad.runtime import Runtime, build_runtime
from pleromad.store import captchas
from pleromad.web.root import build_gateway
from tests.conftest import CHEAP_PASSWORDS, Client
from tests.helpers import query

ANSWER = "7oEy8c"
ANSWER_MD5 = "63615261b77f5354fb8c4e4986477555"


class Kocaptcha(Resource):
    """A stand-in kocaptcha server: GET /new answers what the test sets."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.issued = 0
        self.reply: Callable[[int], tuple[int, bytes]] = lambda n: (
            200,
            json.dumps(
                {"md5": ANSWER_MD5, "token": f"tok{n}", "url": f"/captchas/tok{n}.png"}
            ).encode(),
        )

    def render_GET(self, request: Any) -> bytes:
        assert request.path == b"/new"
        self.issued += 1
        status, body = self.reply(self.issued)
        request.setResponseCode(status)
        return body


@pytest_twisted.async_yield_fixture
async def kocaptcha() -> AsyncIterator[tuple[Kocaptcha, str]]:
    service = Kocaptcha()
    port = reactor.listenTCP(0, Site(service), interface="127.0.0.1")
    yield service, f"http://127.0.0.1:{port.getHost().port}"
    await port.stopListening()


def enabled(config: Config, provider: str, **captcha_settings: Any) -> Config:
    """Captcha on (and registration rate limits off: these tests register a lot)."""
    return replace(
        config,
        captcha=replace(config.captcha, enabled=True, provider=provider, **captcha_settings),
        rate_limits=replace(config.rate_limits, enabled=False),
    )


def runtime(config: Config, db: Database, clock: Any = reactor) -> Runtime:
    return build_runtime(config, db, clock, b"s" * 32, passwords=CHEAP_PASSWORDS)


def registration(n: int, **captcha_fields: str) -> dict[str, str]:
    return {
        "nickname": f"lain{n}",
        "fullname": "Lain",
        "email": f"lain{n}@example.org",
        "password": "pw",
        "confirm": "pw",
        **captcha_fields,
    }


async def register(client: Client, fields: dict[str, str]) -> tuple[int, Any]:
    response = await client.post("/api/account/register", data=fields)
    body = await response.json()
    if response.code == 400:
        return 400, json.loads(body["error"])
    return response.code, body


def users(dsn: str) -> int:
    return query(dsn, "SELECT count(*) FROM users")[0][0]


# -- disabled ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_disabled_captcha_is_type_none(client: Client) -> None:
    """With captcha disabled the endpoint answers {"type": "none"} and
    registration needs no captcha fields."""
    response = await client.get("/api/pleroma/captcha")
    assert response.code == 200
    assert await response.json() == {"type": "none"}
    assert (await register(client, registration(1)))[0] == 200


# -- kocaptcha --------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_kocaptcha_round_trip_and_no_replay(
    config: Config, db: Database, dsn: str, serve: Any, kocaptcha: tuple[Kocaptcha, str]
) -> None:
    """A kocaptcha challenge shows the service's picture; the right solution
    registers once; the same token again is "CAPTCHA already used"."""
    _, endpoint = kocaptcha
    rt = runtime(enabled(config, "kocaptcha", kocaptcha_endpoint=endpoint), db)
    client = serve(build_gateway(rt))
    response = await client.get("/api/pleroma/captcha")
    challenge = await response.json()
    assert challenge == {
        "type": "kocaptcha",
        "token": "tok1",
        "url": f"{endpoint}/captchas/tok1.png",
        "seconds_valid": 60,
    }
    fields = {"captcha_token": "tok1", "captcha_solution": ANSWER, "captcha_answer_data": "x"}
    assert (await register(client, registration(1, **fields)))[0] == 200
    assert await register(client, registration(2, **fields)) == (
        400,
        {"captcha": ["CAPTCHA already used"]},
    )
    assert users(dsn) == 1


@pytest_twisted.ensureDeferred
async def test_a_wrong_answer_uses_the_token_up(
    config: Config, db: Database, dsn: str, serve: Any, kocaptcha: tuple[Kocaptcha, str]
) -> None:
    """A wrong solution is "Invalid CAPTCHA" and consumes the token: the right
    one afterwards is refused; missing fields are invalid too; nothing is created."""
    _, endpoint = kocaptcha
    rt = runtime(enabled(config, "kocaptcha", kocaptcha_endpoint=endpoint), db)
    client = serve(build_gateway(rt))
    await client.get("/api/pleroma/captcha")
    wrong = registration(1, captcha_token="tok1", captcha_solution=ANSWER.upper())
    assert await register(client, wrong) == (400, {"captcha": ["Invalid CAPTCHA"]})
    right = registration(1, captcha_token="tok1", captcha_solution=ANSWER)
    assert await register(client, right) == (400, {"captcha": ["CAPTCHA already used"]})
    for fields in (
        {},
        {"captcha_token": "tok1"},
        {"captcha_solution": ANSWER},
        {"captcha_token": "never-issued", "captcha_solution": ANSWER},
    ):
        assert await register(client, registration(1, **fields)) == (
            400,
            {"captcha": ["Invalid CAPTCHA"]},
        )
    assert users(dsn) == 0


@pytest.mark.parametrize(
    "reply",
    [
        (500, b"oops"),
        (200, b"<html>not json</html>"),
        (200, b'{"token": "t", "url": "/x.png"}'),
        (200, b'{"md5": "nothex", "token": "t", "url": "/x.png"}'),
        (200, b'{"md5": "63615261b77f5354fb8c4e4986477555", "token": "", "url": "/x.png"}'),
        (200, b'["md5", "token", "url"]'),
    ],
)
@pytest_twisted.ensureDeferred
async def test_kocaptcha_garbage_is_503(
    config: Config,
    db: Database,
    serve: Any,
    kocaptcha: tuple[Kocaptcha, str],
    reply: tuple[int, bytes],
) -> None:
    """A kocaptcha service answering garbage gives 503 "Captcha service unavailable"."""
    service, endpoint = kocaptcha
    service.reply = lambda n: reply
    rt = runtime(enabled(config, "kocaptcha", kocaptcha_endpoint=endpoint), db)
    response = await serve(build_gateway(rt)).get("/api/pleroma/captcha")
    assert response.code == 503
    assert await response.json() == {"error": "Captcha service unavailable"}


@pytest_twisted.ensureDeferred
async def test_kocaptcha_outage_is_503(config: Config, db: Database, serve: Any) -> None:
    """An unreachable kocaptcha service gives 503, not 500."""
    port = reactor.listenTCP(0, Site(Resource()), interface="127.0.0.1")
    endpoint = f"http://127.0.0.1:{port.getHost().port}"
    await port.stopListening()
    rt = runtime(enabled(config, "kocaptcha", kocaptcha_endpoint=endpoint), db)
    started = time.monotonic()
    response = await serve(build_gateway(rt)).get("/api/pleroma/captcha")
    assert (response.code, await response.json()) == (503, {"error": "Captcha service unavailable"})
    assert time.monotonic() - started < 5


# -- native -----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_native_challenge_is_an_image_that_validates(
    config: Config, db: Database, dsn: str, serve: Any
) -> None:
    """The native challenge's URL is a PNG data URL Pillow decodes, and its text,
    typed in any case, is the right answer."""
    rt = runtime(enabled(config, "native"), db)
    rt = replace(rt, captcha=NativeProvider(text_source=lambda: "AB3XK9"))
    client = serve(build_gateway(rt))
    challenge = await (await client.get("/api/pleroma/captcha")).json()
    assert challenge["type"] == "native" and challenge["seconds_valid"] == 60
    prefix = "data:image/png;base64,"
    assert challenge["url"].startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(challenge["url"][len(prefix) :])))
    assert image.format == "PNG" and image.size[0] > 100
    stored = query(dsn, "SELECT answer FROM captchas WHERE token = %s", (challenge["token"],))
    assert stored and "AB3XK9" not in stored[0][0]  # only a digest is kept
    fields = {"captcha_token": challenge["token"], "captcha_solution": " ab3xk9 "}
    assert (await register(client, registration(1, **fields)))[0] == 200


@pytest_twisted.ensureDeferred
async def test_expired_answer_is_refused(config: Config, db: Database, dsn: str) -> None:
    """Past [captcha] seconds_valid (the clock advanced, not slept) the answer
    is "CAPTCHA expired", even when right."""
    clock = Clock()
    clock.advance(time.time())
    rt = runtime(enabled(config, "native", seconds_valid=30), db, clock)
    rt = replace(rt, captcha=NativeProvider(text_source=lambda: "QWERTY"))
    fresh = await captcha.new_challenge(rt)
    stale = await captcha.new_challenge(rt)
    clock.advance(29)
    await captcha.check(rt, fresh["token"], "qwerty")
    clock.advance(2)
    with pytest.raises(captcha.CaptchaRefused, match="CAPTCHA expired"):
        await captcha.check(rt, stale["token"], "qwerty")


@pytest_twisted.ensureDeferred
async def test_two_nodes_cannot_both_accept_one_token(
    config: Config, db: Database, dsn: str
) -> None:
    """Two daemons (two pools) checking the same right answer at once: exactly one passes."""
    other = Database(reactor, dsn, 2)
    await other.open()
    try:
        settings = enabled(config, "native")
        first = replace(runtime(settings, db), captcha=NativeProvider(lambda: "ZZZZZZ"))
        second = replace(runtime(settings, other), captcha=first.captcha)
        outcomes = []
        for _ in range(5):
            challenge = await captcha.new_challenge(first)

            async def attempt(rt: Runtime, token: str = challenge["token"]) -> bool:
                try:
                    await captcha.check(rt, token, "zzzzzz")
                    return True
                except captcha.CaptchaRefused:
                    return False

            both = [Deferred.fromCoroutine(attempt(first)), Deferred.fromCoroutine(attempt(second))]
            outcomes.append(sorted(await gatherResults(both)))
        assert outcomes == [[False, True]] * 5
    finally:
        await other.close()


# -- plumbing ---------------------------------------------------------------------


def test_providers_provide_the_interface(config: Config) -> None:
    """Every shipped provider is an ICaptchaProvider chosen by its name."""
    for name, cls in (("native", NativeProvider), ("kocaptcha", KocaptchaProvider)):
        provider = provider_for(enabled(config, name), reactor)
        assert type(provider) is cls and verifyObject(ICaptchaProvider, provider)
    assert type(provider_for(config, reactor)) is NoneProvider  # disabled
    assert verifyObject(ICaptchaProvider, NoneProvider())


def test_unknown_provider_is_one_line(config: Config) -> None:
    """An unknown [captcha] provider stops the start with one line naming it."""
    with pytest.raises(UnknownPlugin) as raised:
        provider_for(enabled(config, "recaptcha"), reactor)
    assert str(raised.value).startswith(
        '[captcha] provider: no captcha provider plugin named "recaptcha"'
    )


def test_kocaptcha_compares_the_md5_case_sensitively() -> None:
    """The solution's MD5 must equal the service's, for the exact text typed."""
    provider = KocaptchaProvider("http://x", None)  # type: ignore[arg-type]
    assert hashlib.md5(ANSWER.encode()).hexdigest() == ANSWER_MD5
    assert provider.matches(ANSWER_MD5.upper(), ANSWER)
    assert not provider.matches(ANSWER_MD5, ANSWER.lower())


@pytest_twisted.ensureDeferred
async def test_expired_answers_are_purged(db: Database, dsn: str) -> None:
    """Housekeeping forgets answers a minute after they expire, and only those."""
    now = time.time()
    await db.run_interaction("a", captchas.save_txn, "old", "native", "x", now - 120)
    await db.run_interaction("b", captchas.save_txn, "new", "native", "x", now + 30)
    assert await db.run_interaction("purge", captchas.purge_txn, now) == 1
    assert query(dsn, "SELECT token FROM captchas") == [("new",)]
