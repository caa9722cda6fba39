"""What a mail backend provides, and the plugin that builds one."""

from __future__ import annotations

from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from pleromad.config import Config


class MailDeliveryError(Exception):
    """A message could not be handed over; ``str()`` is one line, safe to log.

    It never carries an SMTP transcript: one can hold the AUTH exchange.
    """


class IMailer(Interface):
    """Delivers messages somewhere: a mail server, a spool, nowhere."""

    name = Attribute("The backend's name, as ``[mail] backend`` spells it.")

    def send(message: EmailMessage) -> Deferred[None]:
        """Deliver one ``email.message.EmailMessage``.

        Returns a ``Deferred[None]`` that fires once the message is in the
        backend's hands, or fails (preferably with :class:`MailDeliveryError`)
        if it is not, so that the mail job is retried.  Recipients come from
        the message's To, Cc and Bcc headers.  Must not block the reactor.
        """


class IMailerFactory(Interface):
    """The Twisted plugin object (it also provides ``IPlugin``) for one backend."""

    name = Attribute("The name ``[mail] backend`` selects this backend by (a str).")

    def build(config: Config, reactor: Any) -> IMailer:
        """Return an :class:`IMailer` for ``config`` (a ``pleromad.config.Config``).

        Called once at start, on the reactor thread.  Raise ``ValueError``
        with a one-line message if the configuration cannot work.
        """
