"""Choosing the mailer ``[mail] backend`` names among the installed plugins."""

from __future__ import annotations

from typing import Any

from pleromad.config import Config
from pleromad.mail.interface import IMailer, IMailerFactory
from pleromad.plugins import choose


def mailer_for(config: Config, reactor: Any) -> IMailer:
    """Build the mailer ``config.mail.backend`` names; an unknown or ambiguous
    name is a PluginError, which the daemon reports as a start failure."""
    factory: IMailerFactory = choose(
        IMailerFactory, config.mail.backend, setting="[mail] backend", kind="mailer"
    )
    return factory.build(config, reactor)
