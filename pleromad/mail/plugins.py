"""Choosing the mailer ``[mail] backend`` names among the installed plugins.

Mailers are Twisted plugins providing :class:`~.interface.IMailerFactory` in
the ``twisted.plugins`` package, the one ``twistd`` itself scans.  It is a
namespace spread over every ``twisted/plugins/`` folder on ``sys.path``, so a
third party ships ``twisted/plugins/<its_name>.py`` in its own distribution
and, once installed, its mailer is selectable by name.  Scanning reads and
imports files: do it once at start, never per request.
"""

from __future__ import annotations

from typing import Any

import twisted.plugins
from twisted.plugin import getPlugins

from pleromad.config import Config
from pleromad.mail.interface import IMailer, IMailerFactory


class PluginError(ValueError):
    """The configured plugin cannot be chosen; ``str()`` is one line."""


class UnknownPlugin(PluginError):
    """No installed plugin has the configured name."""


class DuplicatePlugin(PluginError):
    """Two installed plugins claim the configured name, so neither is chosen."""


def mailer_factories() -> dict[str, list[IMailerFactory]]:
    """Every installed mailer plugin, by name."""
    found: dict[str, list[IMailerFactory]] = {}
    for factory in getPlugins(IMailerFactory, twisted.plugins):
        found.setdefault(factory.name, []).append(factory)
    return found


def mailer_for(config: Config, reactor: Any) -> IMailer:
    """Build the mailer ``config.mail.backend`` names.

    Raises :class:`UnknownPlugin` naming the backend and the installed ones,
    or :class:`DuplicatePlugin`; the daemon reports either as a start failure.
    """
    backend = config.mail.backend
    factories = mailer_factories()
    candidates = factories.get(backend, [])
    if not candidates:
        available = ", ".join(f'"{name}"' for name in sorted(factories)) or "none"
        raise UnknownPlugin(
            f'[mail] backend: no mailer plugin named "{backend}" is installed'
            f" (available: {available})"
        )
    if len(candidates) > 1:
        raise DuplicatePlugin(
            f'[mail] backend: {len(candidates)} installed mailer plugins are named'
            f' "{backend}"; uninstall all but one'
        )
    return candidates[0].build(config, reactor)
