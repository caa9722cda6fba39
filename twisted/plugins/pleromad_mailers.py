"""The mailers shipped with pleromad, as Twisted plugins (see pleromad.mail.plugins)."""

from pleromad.mail.backends import MaildirMailer, NullMailer, SMTPMailer
from pleromad.mail.interface import MailerFactory

maildir = MailerFactory("maildir", MaildirMailer.from_config)
smtp = MailerFactory("smtp", SMTPMailer.from_config)
none = MailerFactory("none", NullMailer.from_config)
