"""What a mail backend provides, and the plugin that builds one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface, implementer

if TYPE_CHECKING:
    from pleromad.config import Config


class MailDeliveryError(Exception):
    """A message could not be handed over; ``str()`` is one line, safe to log.

    It never carries an SMTP transcript: one can hold the AUTH exchange.
    """


class IMailer(Interface):
    """Delivers messages somewhere: a mail server, a spool, nowhere."""

    name = Attribute("The backend's name, as ``[mail] backend`` spells it.")

    def send(message):  # type: ignore[no-untyped-def]
        """Deliver one ``email.message.EmailMessage``.

        Returns a ``Deferred[None]`` that fires once the message is in the
        backend's hands, or fails (preferably with :class:`MailDeliveryError`)
        if it is not, so that the mail job is retried.  Recipients come from
        the message's To, Cc and Bcc headers.  Must not block the reactor.
        """


class IMailerFactory(Interface):
    """The Twisted plugin object (it also provides ``IPlugin``) for one backend."""

    name = Attribute("The name ``[mail] backend`` selects this backend by (a str).")

    def build(config, reactor):  # type: ignore[no-untyped-def]
        """Return an :class:`IMailer` for ``config`` (a ``pleromad.config.Config``).

        Called once at start, on the reactor thread.  Raise ``ValueError``
        with a one-line message if the configuration cannot work.
        """


@implementer(IPlugin, IMailerFactory)
class MailerFactory:
    """The plain plugin object: a name and a function building the mailer.

    A plugin module needs nothing more than, at module level::

        mine = MailerFactory("mine", MyMailer.from_config)
    """

    def __init__(self, name: str, build: Callable[[Config, Any], IMailer]) -> None:
        self.name = name
        self._build = build

    def build(self, config: Config, reactor: Any) -> IMailer:
        return self._build(config, reactor)

    def __repr__(self) -> str:
        return f"<MailerFactory {self.name!r}>"
