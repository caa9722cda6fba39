"""Captcha challenges and their answers (DECISIONS 11).

Every provider's answer is kept in PostgreSQL for ``[captcha] seconds_valid``
seconds and is used up by the first attempt, right or wrong, on whichever
node it reaches: a token can never be replayed.  ``captcha_answer_data`` is
accepted from clients and ignored; nothing secret travels through them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pleromad.captcha.interface import CaptchaUnavailable
from pleromad.errors import ApiError
from pleromad.store import captchas

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

INVALID = "Invalid CAPTCHA"
EXPIRED = "CAPTCHA expired"
USED = "CAPTCHA already used"
UNAVAILABLE = "Captcha service unavailable"


class CaptchaRefused(Exception):
    """The solution does not pass; ``str()`` is the reference's message."""


async def new_challenge(rt: Runtime) -> dict[str, Any]:
    """What ``GET /api/pleroma/captcha`` answers; 503 when the provider's
    service cannot be reached."""
    try:
        challenge = await rt.captcha.new()
    except CaptchaUnavailable:
        raise ApiError(UNAVAILABLE, status=503) from None
    if challenge.token:
        expires_at = rt.clock.seconds() + rt.config.captcha.seconds_valid
        await rt.db.run_interaction(
            "save captcha",
            captchas.save_txn,
            challenge.token,
            rt.captcha.name,
            challenge.answer,
            expires_at,
        )
        return {**challenge.client, "seconds_valid": rt.config.captcha.seconds_valid}
    return challenge.client


async def check(rt: Runtime, token: Any, solution: Any) -> None:
    """Pass, or raise CaptchaRefused; the token is used up either way."""
    if not rt.config.captcha.enabled or rt.captcha.name == "none":
        return
    if not isinstance(token, str) or not token or not isinstance(solution, str):
        raise CaptchaRefused(INVALID)
    consumed = await rt.db.run_interaction(
        "consume captcha", captchas.consume_txn, token, rt.clock.seconds()
    )
    if consumed["state"] == "used":
        raise CaptchaRefused(USED)
    if consumed["state"] == "expired":
        raise CaptchaRefused(EXPIRED)
    if (
        consumed["state"] != "fresh"
        or consumed["provider"] != rt.captcha.name
        or not rt.captcha.matches(consumed["answer"], solution)
    ):
        raise CaptchaRefused(INVALID)
