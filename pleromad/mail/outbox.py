"""Composing mail, and sending it through the durable job queue.

Nothing sends mail inline: a caller queues it with :func:`enqueue_mail_txn`
in the transaction that makes it necessary (the new account, the reset
token), so the mail exists exactly when that change does, and the job runner
delivers it with :func:`mail_job_handler`, retrying with backoff while the
mail server is unreachable.  With the runner's default backoff (5 s doubling,
capped at an hour) :data:`MAIL_MAX_ATTEMPTS` attempts span about four and a
half hours; after that the job stays ``failed`` for the operator to see.

A retried job may deliver a message twice (the server accepted it but the
outcome was not recorded); the Message-ID, fixed when the message was
composed, lets mail software recognise the duplicate.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.jobs import Handler
from pleromad.mail.interface import IMailer
from pleromad.metrics import Metrics
from pleromad.store import jobs

MAIL_JOB = "mail"
MAIL_MAX_ATTEMPTS = 14


def compose(
    config: Config,
    to_name: str,
    to_address: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    now: float,
) -> EmailMessage:
    """A message from the instance to one person, dated ``now`` (seconds since
    the epoch, from the caller's clock): a text/plain body, or a
    multipart/alternative of it and ``html``.

    From is ``[mail] from``, shown as the instance name unless the setting
    has a display name of its own.  Raises ``ValueError`` on an address that
    does not parse or on a line break in any header value, so that user
    input cannot add headers.
    """
    own_name, from_address = parseaddr(config.mail.from_address)
    message = EmailMessage(policy=policy.default)
    message["From"] = Address(own_name or config.instance.name, addr_spec=from_address)
    message["To"] = Address(to_name, addr_spec=to_address)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    # An explicit domain: make_msgid's default looks the host name up in DNS,
    # which may block the reactor.
    domain = urlsplit(config.server.base_url).hostname or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    # RFC 3834: auto-responders and vacation replies leave it alone.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, cte=_transfer_encoding(text))
    if html is not None:
        message.add_alternative(html, subtype="html", cte=_transfer_encoding(html))
    return message


def _transfer_encoding(body: str) -> str | None:
    # Left to itself the email package sends non-ASCII text as 8bit, which a
    # server that does not offer 8BITMIME may mangle; quoted-printable is safe.
    return None if body.isascii() else "quoted-printable"


async def enqueue_mail_txn(
    txn: Txn, message: EmailMessage, *, max_attempts: int = MAIL_MAX_ATTEMPTS
) -> int:
    """Queue ``message`` for sending when the caller's transaction commits;
    returns the job id."""
    data = message.as_bytes(policy=message.policy.clone(linesep="\n"))
    payload = {"message": base64.b64encode(data).decode("ascii")}
    return await jobs.enqueue_txn(txn, MAIL_JOB, payload, max_attempts=max_attempts)


def message_from_payload(payload: Mapping[str, Any]) -> EmailMessage:
    """The message :func:`enqueue_mail_txn` stored; ``ValueError`` if it is not one."""
    try:
        data = base64.b64decode(payload["message"], validate=True)
    except (KeyError, TypeError, binascii.Error) as e:
        raise ValueError(f"not a mail job payload: {e}") from None
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def mail_job_handler(mailer: IMailer, metrics: Metrics | None = None) -> Handler:
    """The job handler for :data:`MAIL_JOB`: sends the queued message with
    ``mailer``; a failed send fails the attempt, which is retried.  Each
    outcome is counted in ``metrics``."""
    counters = metrics or Metrics()

    async def send_mail(payload: Mapping[str, Any]) -> None:
        try:
            await mailer.send(message_from_payload(payload))
        except Exception:
            counters.mail_failed.inc()
            raise
        counters.mail_sent.inc()

    return send_mail
