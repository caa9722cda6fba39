"""Choosing a plugin by the name the configuration gives.

Pluggable parts (mailers, captcha providers, ...) are Twisted plugins in the
``twisted.plugins`` package, the one ``twistd`` itself scans: a namespace
spread over every ``twisted/plugins/`` folder on ``sys.path``, so a third
party ships ``twisted/plugins/<its_name>.py`` in its own distribution and,
once installed, its plugin is selectable by name.  Scanning reads and
imports files: do it once at start, never per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.plugin import IPlugin, getPlugins
from zope.interface import Interface, directlyProvides, implementer

import twisted.plugins


class PluginError(ValueError):
    """The configured plugin cannot be chosen; ``str()`` is one line."""


class UnknownPlugin(PluginError):
    """No installed plugin has the configured name."""


class DuplicatePlugin(PluginError):
    """Two installed plugins claim the configured name, so neither is chosen."""


def installed(interface: type[Interface]) -> dict[str, list[Any]]:
    """Every installed plugin providing ``interface``, by name."""
    found: dict[str, list[Any]] = {}
    factory: Any  # provides ``interface``, whose plugins all have a name
    for factory in getPlugins(interface, twisted.plugins):
        found.setdefault(factory.name, []).append(factory)
    return found


def choose(interface: type[Interface], name: str, *, setting: str, kind: str) -> Any:
    """The one installed plugin called ``name``.

    ``setting`` (e.g. ``[mail] backend``) and ``kind`` (e.g. ``mailer``)
    only shape the one-line error that names the installed alternatives.
    """
    factories = installed(interface)
    candidates = factories.get(name, [])
    if not candidates:
        available = ", ".join(f'"{found}"' for found in sorted(factories)) or "none"
        raise UnknownPlugin(
            f'{setting}: no {kind} plugin named "{name}" is installed (available: {available})'
        )
    if len(candidates) > 1:
        raise DuplicatePlugin(
            f'{setting}: {len(candidates)} installed {kind} plugins are named "{name}";'
            f" uninstall all but one"
        )
    return candidates[0]


@implementer(IPlugin)
class NamedFactory:
    """The plain plugin object: a name and a function building the thing.

    A plugin module needs nothing more than, at module level::

        mine = NamedFactory(IMailerFactory, "mine", MyMailer.from_config)
    """

    def __init__(self, interface: type[Interface], name: str, build: Callable[..., Any]) -> None:
        directlyProvides(self, IPlugin, interface)
        self.name = name
        self._build = build

    def build(self, *args: Any) -> Any:
        return self._build(*args)

    def __repr__(self) -> str:
        return f"<NamedFactory {self.name!r}>"
