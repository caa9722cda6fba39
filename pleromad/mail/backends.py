"""The mailers shipped with pleromad: ``maildir``, ``smtp`` and ``none``.

Each is built from the configuration by its ``from_config`` class method,
which is what the plugins in ``twisted/plugins/pleromad_mailers.py`` call.
"""

from __future__ import annotations

import copy
import mailbox
import os
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from io import BytesIO
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from twisted.internet import defer, threads
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IReactorTime
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import Logger
from twisted.mail.smtp import SUCCESS, ESMTPSenderFactory, SMTPClientError, SMTPDeliveryError
from twisted.python.failure import Failure
from zope.interface import implementer

from pleromad.config import Config
from pleromad.mail.interface import IMailer, MailDeliveryError

log = Logger()

# Headers whose addresses receive the message.
_RECIPIENT_HEADERS = ("To", "Cc", "Bcc")


def recipients(message: EmailMessage) -> list[str]:
    """The addresses ``message`` is for (To, Cc, Bcc), each once, in order."""
    values = [str(v) for header in _RECIPIENT_HEADERS for v in message.get_all(header, [])]
    found: list[str] = []
    for _name, address in getaddresses(values):
        if address and address not in found:
            found.append(address)
    return found


def _file_bytes(message: EmailMessage) -> bytes:
    """The message as a file holds it: ``\\n`` line ends, as Maildir readers
    and Twisted's SMTP client (which writes ``\\r\\n`` itself) expect."""
    return message.as_bytes(policy=message.policy.clone(linesep="\n"))


# -- maildir -------------------------------------------------------------------


@implementer(IMailer)
class MaildirMailer:
    """Delivers into a Maildir (``tmp/``, ``new/``, ``cur/``) any mail client reads.

    The folder and its parents are created on first delivery.  A message is
    written under ``tmp/`` and renamed into ``new/`` by :mod:`mailbox`, then
    flushed to disk before the send succeeds: the job that asked for it is
    deleted right after, so the message must not be lost in a crash.
    """

    name = "maildir"

    def __init__(self, path: Path, reactor: Any) -> None:
        self.path = path
        self._reactor = reactor

    @classmethod
    def from_config(cls, config: Config, reactor: Any) -> MaildirMailer:
        return cls(config.server.data_dir / "mail", reactor)

    def send(self, message: EmailMessage) -> Deferred[None]:
        data = _file_bytes(message)
        d = threads.deferToThreadPool(
            self._reactor, self._reactor.getThreadPool(), self._deliver, data
        )
        return d.addCallback(self._delivered)

    def _delivered(self, key: str) -> None:
        log.debug("mail {key} written to {path}", key=key, path=self.path)

    def _deliver(self, data: bytes) -> str:
        """Runs in a thread: file I/O of any size stays off the reactor."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(self.path, factory=None, create=True)
            key = box.add(data)
            new = self.path / "new"
            _fsync(new / key, os.O_RDONLY)
            _fsync(new, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as e:
            raise MailDeliveryError(f"maildir {self.path}: {e.strerror or e}") from None
        return key


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- none ----------------------------------------------------------------------


@implementer(IMailer)
class NullMailer:
    """Accepts every message and drops it: for instances that send no mail."""

    name = "none"

    @classmethod
    def from_config(cls, config: Config, reactor: Any) -> NullMailer:
        return cls()

    def send(self, message: EmailMessage) -> Deferred[None]:
        log.debug(
            'mail {subject!r} to {to} dropped: [mail] backend is "none"',
            subject=message.get("Subject", ""),
            to=", ".join(recipients(message)),
        )
        return defer.succeed(None)


# -- smtp ----------------------------------------------------------------------


@implementer(IMailer)
class SMTPMailer:
    """Hands each message to one SMTP server (a relay or smarthost), one
    connection per message.

    - With ``starttls`` the session must switch to TLS before anything else,
      against a certificate valid for ``host`` (``tls_options`` replaces that
      check, for tests and private CAs); a server without STARTTLS fails the
      send rather than being sent to in clear.  Without it no TLS is tried.
    - With a ``username`` the server must accept AUTH (CRAM-MD5, LOGIN or
      PLAIN, in that order of preference), or the send fails.
    - Bounded: ``connect_timeout`` to connect, ``response_timeout`` for any
      one answer, ``send_timeout`` for the whole exchange, after which the
      connection is dropped.

    Any failure fails the Deferred with a one-line :class:`MailDeliveryError`;
    the mail job retries it later.  Messages go out with a ``\\n``-to-CRLF
    conversion and dot-stuffing by Twisted; Bcc is removed from the copy sent.
    """

    name = "smtp"

    def __init__(
        self,
        reactor: Any,
        *,
        host: str,
        port: int,
        envelope_from: str,
        helo: str = "localhost",
        username: str = "",
        password: str = "",
        starttls: bool = False,
        tls_options: IOpenSSLClientConnectionCreator | None = None,
        connect_timeout: float = 30.0,
        response_timeout: float = 30.0,
        send_timeout: float = 60.0,
        clock: IReactorTime | None = None,
    ) -> None:
        self._reactor = reactor
        self._clock: IReactorTime = clock or reactor
        self.host = host
        self.port = port
        self.envelope_from = envelope_from
        self._helo = helo.encode("idna")
        self._username = username.encode("utf-8") if username else None
        self._password = password.encode("utf-8") if username else None
        self.starttls = starttls
        self._tls = (tls_options or optionsForClientTLS(host)) if starttls else None
        self._connect_timeout = connect_timeout
        self._response_timeout = response_timeout
        self._send_timeout = send_timeout

    @classmethod
    def from_config(cls, config: Config, reactor: Any) -> SMTPMailer:
        mail = config.mail
        if not mail.smtp_host:
            raise ValueError('[mail] smtp_host: must not be empty with backend = "smtp"')
        return cls(
            reactor,
            host=mail.smtp_host,
            port=mail.smtp_port,
            envelope_from=parseaddr(mail.from_address)[1],
            helo=urlsplit(config.server.base_url).hostname or "localhost",
            username=mail.smtp_username,
            password=mail.smtp_password,
            starttls=mail.smtp_starttls,
        )

    def __repr__(self) -> str:
        return f"<SMTPMailer {self.host}:{self.port}>"

    def send(self, message: EmailMessage) -> Deferred[None]:
        try:
            to = [_envelope_address(a) for a in recipients(message)]
            sender = _envelope_address(self.envelope_from)
        except MailDeliveryError as e:
            return defer.fail(e)
        if not to:
            return defer.fail(MailDeliveryError("the message has no To, Cc or Bcc address"))
        if "Bcc" in message:
            message = copy.deepcopy(message)
            del message["Bcc"]

        def cancel(_: Deferred[Any]) -> None:
            factory.sendFinished = True  # no more reconnecting or callbacks
            protocol = factory.currentProtocol
            if protocol is not None and protocol.transport is not None:
                protocol.transport.abortConnection()
            else:
                connector.disconnect()

        result: Deferred[Any] = Deferred(cancel)
        factory = ESMTPSenderFactory(
            self._username,
            self._password,
            sender,
            to,
            BytesIO(_file_bytes(message)),
            result,
            retries=0,  # the job queue retries, with backoff
            timeout=self._response_timeout,
            contextFactory=self._tls,
            heloFallback=not (self._username or self.starttls),
            requireAuthentication=self._username is not None,
            requireTransportSecurity=self.starttls,
        )
        factory.domain = self._helo
        factory.noisy = False
        connector = self._reactor.connectTCP(
            self.host, self.port, factory, timeout=self._connect_timeout
        )
        result.addTimeout(self._send_timeout, self._clock)
        result.addCallbacks(self._sent, self._failed)
        return result

    def _sent(self, outcome: tuple[int, list[tuple[Any, int, Any]]]) -> None:
        _accepted, addresses = outcome
        refused = _refusals(addresses)
        if refused:
            # Retrying would send it again to those who accepted it.
            log.warn(
                "smtp {server}: some recipients refused: {refused}",
                server=f"{self.host}:{self.port}",
                refused=refused,
            )

    def _failed(self, reason: Failure) -> Failure:
        error = MailDeliveryError(f"smtp {self.host}:{self.port}: {self._describe(reason)}")
        return Failure(error)

    def _describe(self, reason: Failure) -> str:
        err = reason.value
        if isinstance(err, defer.TimeoutError):
            text = f"no complete exchange within {self._send_timeout:g} s"
        elif isinstance(err, SMTPDeliveryError) and (
            # Twisted types them as object; SMTPClient fills in (address, code, resp) triples.
            refused := _refusals(cast(list[tuple[Any, int, Any]], err.addresses or []))
        ):
            text = "recipients refused: " + refused
        elif isinstance(err, SMTPClientError):
            # Never str(err): it appends the session transcript, AUTH included.
            resp = _text(err.resp)
            text = f"{err.code:03d} {resp}" if err.code > 0 else resp
        else:
            text = str(err) or type(err).__name__
        return " ".join(text.split()) or type(err).__name__


def _envelope_address(address: str) -> bytes:
    """An address as SMTP without the SMTPUTF8 extension can carry it."""
    local, at, domain = address.rpartition("@")
    try:
        return (local + at + domain.encode("idna").decode("ascii")).encode("ascii")
    except UnicodeError:
        raise MailDeliveryError(
            f"cannot send to or from {address!r}: non-ASCII mailbox names need SMTPUTF8,"
            " which this mailer does not speak"
        ) from None


def _refusals(addresses: list[tuple[Any, int, Any]]) -> str:
    return "; ".join(
        f"{_text(address)}: {code:03d} {_text(resp)}"
        for address, code, resp in addresses
        if code not in SUCCESS
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
