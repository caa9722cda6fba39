"""The mailers shipped with pleromad, as Twisted plugins (see pleromad.plugins)."""

from pleromad.mail.backends import MaildirMailer, NullMailer, SMTPMailer
from pleromad.mail.interface import IMailerFactory
from pleromad.plugins import NamedFactory

maildir = NamedFactory(IMailerFactory, "maildir", MaildirMailer.from_config)
smtp = NamedFactory(IMailerFactory, "smtp", SMTPMailer.from_config)
none = NamedFactory(IMailerFactory, "none", NullMailer.from_config)
