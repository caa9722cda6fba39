"""Outgoing mail: confirmation mails, password resets and invites.

- :mod:`.interface` declares :class:`~.interface.IMailer` (something that
  delivers one message) and :class:`~.interface.IMailerFactory` (the Twisted
  plugin that builds one from the configuration).
- :mod:`.backends` holds the mailers shipped with pleromad: ``maildir`` (the
  default, a Maildir under ``<data_dir>/mail``), ``smtp`` and ``none``; the
  plugins exposing them are in ``twisted/plugins/pleromad_mailers.py``.
- :mod:`.plugins` finds the mailer ``[mail] backend`` names among every
  installed plugin, so a third party adds one by shipping
  ``twisted/plugins/<its_name>.py`` in its own distribution.
- :mod:`.outbox` composes messages and sends them through the job queue, so
  a mail survives a restart and an SMTP outage: nothing sends mail inline.
"""
