"""The mail that asks a new account to confirm its e-mail address."""

from __future__ import annotations

import html
from email.message import EmailMessage
from urllib.parse import quote

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.mail.outbox import compose, enqueue_mail_txn
from pleromad.model import User


def confirmation_url(config: Config, user_id: int, token: str) -> str:
    """The link that confirms the account; the token is one path segment,
    percent-encoded (its ``=`` padding as ``%3D``)."""
    return f"{config.server.base_url}/api/account/confirm_email/{user_id}/{quote(token, safe='')}"


def confirmation_message(config: Config, user: User, now: float) -> EmailMessage:
    """The message for ``user``, who must have an e-mail address and a token,
    dated ``now``."""
    assert user.email is not None and user.confirmation_token is not None
    instance = config.instance.name
    url = confirmation_url(config, user.id, user.confirmation_token)
    text = (
        f"Welcome to {instance}!\n\n"
        f"Email confirmation is required to activate the account.\n"
        f"Open the following link to proceed:\n\n{url}\n"
    )
    markup = (
        f"<h3>Welcome to {html.escape(instance)}!</h3>\n"
        f"<p>Email confirmation is required to activate the account.</p>\n"
        f'<p>Click the following link to proceed: <a href="{html.escape(url)}">'
        f"activate your account</a>.</p>\n"
    )
    # Names may hold line breaks, which headers may not.
    to_name = " ".join(user.display_name.split())
    subject = " ".join(f"{instance} account confirmation".split())
    return compose(config, to_name, user.email, subject, text, markup, now=now)


async def enqueue_confirmation_txn(txn: Txn, config: Config, user: User, now: float) -> int | None:
    """Queue the confirmation mail in the caller's transaction; the job id,
    or None for an account without an e-mail address."""
    if user.email is None or user.confirmation_token is None:
        return None
    return await enqueue_mail_txn(txn, confirmation_message(config, user, now))
