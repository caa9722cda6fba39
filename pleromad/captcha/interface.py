"""What a captcha provider is, and the plugin that builds one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from pleromad.config import Config


class CaptchaUnavailable(Exception):
    """The provider cannot make a challenge now (its service is down)."""


@dataclass(frozen=True)
class Challenge:
    """A new challenge: what the client is shown (always with ``type``), the
    token it answers under, and what the provider needs to check the answer
    later (stored in PostgreSQL, never sent to the client)."""

    client: dict[str, Any]
    token: str
    answer: str


class ICaptchaProvider(Interface):
    name = Attribute("The name [captcha] provider selects it by.")

    def new() -> Deferred[Challenge]:
        """A Deferred Challenge, or a failure with CaptchaUnavailable."""

    def matches(answer: str, solution: str) -> bool:
        """Whether ``solution`` (what the person typed) solves the challenge
        whose stored ``answer`` this is.  Cheap and synchronous."""


class ICaptchaProviderFactory(Interface):
    """The Twisted plugin object (it also provides ``IPlugin``) for one provider."""

    name = Attribute("The name [captcha] provider selects it by (a str).")

    def build(config: Config, reactor: Any) -> ICaptchaProvider:
        """Return an ICaptchaProvider for ``config``; called once at start."""
