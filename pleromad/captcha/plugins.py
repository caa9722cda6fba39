"""Choosing the provider ``[captcha] provider`` names among the installed plugins."""

from __future__ import annotations

from typing import Any

from pleromad.captcha.interface import ICaptchaProvider, ICaptchaProviderFactory
from pleromad.config import Config
from pleromad.plugins import choose


def provider_for(config: Config, reactor: Any) -> ICaptchaProvider:
    """The provider ``[captcha] provider`` names, or ``none`` while disabled;
    an unknown name is a PluginError, reported as a start failure."""
    name = config.captcha.provider if config.captcha.enabled else "none"
    factory: ICaptchaProviderFactory = choose(
        ICaptchaProviderFactory, name, setting="[captcha] provider", kind="captcha provider"
    )
    return factory.build(config, reactor)
