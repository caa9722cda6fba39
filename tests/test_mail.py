"""Outgoing mail: composing, the backends, plugin selection and the durable path.

The SMTP backend is tested against a real SMTP server (Twisted's ESMTP) on a
loopback port, with AUTH through a ``twisted.cred`` portal and STARTTLS with
a certificate made for the run.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import mailbox
import time
from collections.abc import AsyncIterator, Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.cred.checkers import AllowAnonymousAccess, InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, reactor, ssl, task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.mail.imap4 import PLAINCredentials
from twisted.mail.interfaces import IMessageDelivery, IMessageSMTP
from twisted.mail.smtp import ESMTP, LOGINCredentials, SMTPFactory
from twisted.plugin import IPlugin
from zope.interface import implementer
from zope.interface.verify import verifyObject

from pleromad.config import Config
from pleromad.db.pool import Database
from pleromad.mail.backends import MaildirMailer, NullMailer, SMTPMailer
from pleromad.mail.interface import IMailer, IMailerFactory, MailDeliveryError
from pleromad.mail.outbox import (
    MAIL_JOB,
    MAIL_MAX_ATTEMPTS,
    compose,
    enqueue_mail_txn,
    mail_job_handler,
)
from pleromad.mail.plugins import mailer_for
from pleromad.plugins import UnknownPlugin, installed
from tests.conftest import StartRunner
from tests.helpers import eventually, query, sleep

FROM = "noreply@localhost"

# Twisted's TLS server options still hand pyOpenSSL objects to pyOpenSSL.
pytestmark = pytest.mark.filterwarnings("ignore:Passing pyOpenSSL:DeprecationWarning")


# -- a real SMTP server on loopback ----------------------------------------------


@dataclasses.dataclass
class Received:
    mail_from: str
    rcpt_to: str
    data: bytes
    tls: bool
    login: bytes | None

    def parsed(self) -> EmailMessage:
        message = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(message, EmailMessage)
        return message


@implementer(IMessageSMTP)
class _Message:
    def __init__(self, server: SMTPServer, delivery: _Delivery, origin: Any, user: Any) -> None:
        self._server, self._delivery = server, delivery
        self._origin, self._user = origin, user
        self._lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self._lines.append(line)

    def eomReceived(self) -> Deferred[bytes]:
        self._server.received.append(
            Received(
                mail_from=str(self._origin),
                rcpt_to=str(self._user.dest),
                data=b"\n".join(self._lines) + b"\n",
                tls=self._delivery.protocol.startedTLS,
                login=self._delivery.login,
            )
        )
        return defer.succeed(b"queued")

    def connectionLost(self) -> None:
        pass


@implementer(IMessageDelivery)
class _Delivery:
    """Accepts any sender and recipient for the session that logged in."""

    def __init__(self, login: bytes | None) -> None:
        self.login = login
        self.protocol: ESMTP
        self.server: SMTPServer

    def receivedHeader(self, helo: Any, origin: Any, recipients: Any) -> None:
        return None

    def validateFrom(self, helo: Any, origin: Any) -> Any:
        return origin

    def validateTo(self, user: Any) -> Callable[[], _Message]:
        origin = user.orig
        return lambda: _Message(self.server, self, origin, user)


@implementer(IRealm)
class _Realm:
    def requestAvatar(self, avatar_id: Any, mind: Any, *interfaces: Any) -> Any:
        login = avatar_id if isinstance(avatar_id, bytes) else None
        return IMessageDelivery, _Delivery(login), lambda: None


class SMTPServer(SMTPFactory):
    """An ESMTP server keeping what it receives; AUTH is required when
    ``users`` is given, STARTTLS offered when ``tls`` is."""

    def __init__(
        self,
        users: dict[bytes, bytes] | None = None,
        tls: ssl.CertificateOptions | None = None,
        mechanisms: tuple[bytes, ...] = (b"LOGIN", b"PLAIN"),
    ) -> None:
        checker = AllowAnonymousAccess()
        if users is not None:
            checker = InMemoryUsernamePasswordDatabaseDontUse()
            for user, password in users.items():
                checker.addUser(user, password)
        super().__init__(Portal(_Realm(), [checker]))
        self.domain = b"localhost"
        self._tls = tls
        self._challengers = {
            name: {b"LOGIN": LOGINCredentials, b"PLAIN": PLAINCredentials}[name]
            for name in mechanisms
        }
        self.received: list[Received] = []
        self.auth_attempts = 0
        self.port: IListeningPort | None = None

    def buildProtocol(self, addr: Any) -> ESMTP:
        server = self

        class Protocol(ESMTP):
            def ext_AUTH(self, rest: bytes) -> None:
                server.auth_attempts += 1
                super().ext_AUTH(rest)

            def validateFrom(self, helo: Any, origin: Any) -> Any:
                # Called again once an anonymous login has set the delivery.
                if self.delivery is not None:
                    self.delivery.protocol = self
                    self.delivery.server = server
                return super().validateFrom(helo, origin)

        p = Protocol(dict(self._challengers), self._tls)
        p.factory = self
        p.portal = self.portal
        p.host = self.domain
        return p

    def listen(self, port: int = 0) -> int:
        self.port = reactor.listenTCP(port, self, interface="127.0.0.1")
        return self.port.getHost().port


@pytest_twisted.async_yield_fixture
async def smtp_servers() -> AsyncIterator[Callable[..., SMTPServer]]:
    """Start SMTP servers on loopback; each is stopped after the test."""
    started: list[SMTPServer] = []

    def start(*args: Any, port: int = 0, **kwargs: Any) -> SMTPServer:
        server = SMTPServer(*args, **kwargs)
        server.listen(port)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.port is not None:
            await server.port.stopListening()


def port_of(server: SMTPServer) -> int:
    assert server.port is not None
    return server.port.getHost().port


async def free_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    port = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    number = port.getHost().port
    await port.stopListening()
    return number


@pytest.fixture(scope="module")
def certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate for "localhost": (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_tls(certificate: tuple[bytes, bytes]) -> ssl.CertificateOptions:
    cert_pem, key_pem = certificate
    return ssl.PrivateCertificate.loadPEM(cert_pem + key_pem).options()


def trusting(certificate: tuple[bytes, bytes]) -> Any:
    """Client TLS options for "localhost" that trust the test certificate."""
    return ssl.optionsForClientTLS("localhost", trustRoot=ssl.Certificate.loadPEM(certificate[0]))


def smtp_mailer(port: int, **kwargs: Any) -> SMTPMailer:
    kwargs.setdefault("host", "127.0.0.1")
    return SMTPMailer(reactor, port=port, envelope_from=FROM, **kwargs)


NOW = datetime.datetime(2024, 5, 17, 12, 30, tzinfo=datetime.UTC)


def with_mail(config: Config, **changes: Any) -> Config:
    return dataclasses.replace(config, mail=dataclasses.replace(config.mail, **changes))


def message(config: Config, to: str = "alice@example.com", **kwargs: Any) -> EmailMessage:
    kwargs.setdefault("subject", "Confirm your account")
    kwargs.setdefault("text", "Follow this link to confirm:\nhttp://localhost:4000/confirm\n")
    kwargs.setdefault("now", NOW.timestamp())
    return compose(config, "Alice", to, **kwargs)


async def failure_of(d: Deferred[Any]) -> BaseException:
    try:
        await d
    except Exception as e:
        return e
    raise AssertionError("the send succeeded")


# -- compose -----------------------------------------------------------------------


def test_compose_sets_the_headers_and_a_text_part(config: Config) -> None:
    """compose() writes From (the instance name on [mail] from), To, Subject,
    Date, a Message-ID on the instance's domain and Auto-Submitted, with a
    single text/plain body; non-ASCII goes quoted-printable, not 8bit."""
    config = dataclasses.replace(
        config,
        instance=dataclasses.replace(config.instance, name="Café Social"),
        server=dataclasses.replace(config.server, base_url="https://social.example"),
    )
    m = compose(
        config, "Zoë", "zoe@example.com", "Bienvenue à bord", "Héllo\n", now=NOW.timestamp()
    )
    again = BytesParser(policy=policy.default).parsebytes(m.as_bytes())
    assert again["From"].addresses[0].display_name == "Café Social"
    assert again["From"].addresses[0].addr_spec == "noreply@localhost"
    assert again["To"].addresses[0].display_name == "Zoë"
    assert again["To"].addresses[0].addr_spec == "zoe@example.com"
    assert again["Subject"] == "Bienvenue à bord"
    assert again["Date"].datetime == NOW
    assert again["Message-ID"].startswith("<") and again["Message-ID"].endswith("@social.example>")
    assert again["Auto-Submitted"] == "auto-generated"
    assert again.get_content_type() == "text/plain"
    assert again["Content-Transfer-Encoding"] == "quoted-printable"
    assert again.get_content() == "Héllo\n"
    assert m.as_bytes().isascii()


def test_compose_adds_html_as_an_alternative(config: Config) -> None:
    """With html, the body is multipart/alternative: the text first, then the HTML;
    a [mail] from with a display name of its own keeps it."""
    config = with_mail(config, from_address="Pleroma Robot <robot@pleroma.example>")
    m = compose(config, "", "bob@example.com", "Reset", "plain words", "<p>rich words</p>", now=0.0)
    again = BytesParser(policy=policy.default).parsebytes(m.as_bytes())
    assert str(again["From"]) == "Pleroma Robot <robot@pleroma.example>"
    assert str(again["To"]) == "bob@example.com"
    assert again.get_content_type() == "multipart/alternative"
    parts = list(again.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().strip() == "plain words"
    assert parts[1].get_content().strip() == "<p>rich words</p>"


@pytest.mark.parametrize(
    "to_name, to_address, subject",
    [
        ("Eve\nBcc: victim@example.com", "eve@example.com", "Hi"),
        ("Eve", "eve@example.com\r\nBcc: victim@example.com", "Hi"),
        ("Eve", "eve@example.com", "Hi\r\nBcc: victim@example.com"),
        ("Eve", "not an address", "Hi"),
    ],
)
def test_compose_refuses_header_injection_and_bad_addresses(
    config: Config, to_name: str, to_address: str, subject: str
) -> None:
    """A line break in a name, address or subject, or an address that does not
    parse, is a ValueError: user input never adds a header."""
    with pytest.raises(ValueError):
        compose(config, to_name, to_address, subject, "text", now=0.0)


# -- plugins -------------------------------------------------------------------------


def test_mailer_for_picks_each_backend_by_name(config: Config) -> None:
    """Each shipped backend is an installed plugin providing IPlugin and
    IMailerFactory, and mailer_for builds the one [mail] backend names."""
    factories = installed(IMailerFactory)
    for name in ("maildir", "smtp", "none"):
        [factory] = factories[name]
        assert verifyObject(IMailerFactory, factory)
        assert verifyObject(IPlugin, factory)
    expected = {"maildir": MaildirMailer, "smtp": SMTPMailer, "none": NullMailer}
    for name, cls in expected.items():
        mailer = mailer_for(with_mail(config, backend=name), reactor)
        assert type(mailer) is cls
        assert verifyObject(IMailer, mailer)
        assert mailer.name == name
    maildir = mailer_for(config, reactor)  # the default
    assert isinstance(maildir, MaildirMailer)
    assert maildir.path == config.server.data_dir / "mail"


def test_mailer_for_rejects_an_unknown_backend_with_one_line(config: Config) -> None:
    """An unknown backend is an UnknownPlugin (a ValueError) whose one-line
    message names it and lists the installed ones."""
    with pytest.raises(UnknownPlugin) as raised:
        mailer_for(with_mail(config, backend="carrier-pigeon"), reactor)
    text = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert "\n" not in text
    assert '"carrier-pigeon"' in text
    assert all(f'"{name}"' in text for name in ("maildir", "smtp", "none"))


# -- maildir and none ----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_maildir_writes_messages_a_maildir_reader_finds(config: Config) -> None:
    """The maildir backend creates <data_dir>/mail with tmp/, new/ and cur/ and
    puts each message, under its own name, in new/, where mailbox.Maildir
    reads it back with its headers and body; nothing is left in tmp/."""
    mailer = MaildirMailer.from_config(config, reactor)
    first = message(config, subject="First", text="one\n")
    second = message(config, to="bob@example.com", subject="Second", text="two\n")
    await mailer.send(first)
    await mailer.send(second)

    root = config.server.data_dir / "mail"
    assert sorted(p.name for p in root.iterdir()) == ["cur", "new", "tmp"]
    assert list((root / "tmp").iterdir()) == []
    assert len(list((root / "new").iterdir())) == 2
    box = mailbox.Maildir(root, factory=None, create=False)
    found = {m["Subject"]: m for m in box}
    assert set(found) == {"First", "Second"}
    got = found["Second"]
    assert got["To"] == "Alice <bob@example.com>"
    assert got["From"] == "Pleroma <noreply@localhost>"
    assert got["Message-ID"] == second["Message-ID"]
    assert got.get_payload() == "two\n"


@pytest_twisted.ensureDeferred
async def test_maildir_failure_fails_the_send(tmp_path: Path) -> None:
    """A Maildir that cannot be written (its place is taken by a file) fails the
    send with a one-line MailDeliveryError instead of losing the message."""
    (tmp_path / "mail").write_text("not a folder")
    mailer = MaildirMailer(tmp_path / "mail", reactor)
    error = await failure_of(mailer.send(EmailMessage()))
    assert isinstance(error, MailDeliveryError)
    assert str(error).startswith(f"maildir {tmp_path / 'mail'}:")


@pytest_twisted.ensureDeferred
async def test_none_accepts_and_drops(config: Config) -> None:
    """The none backend succeeds at once and writes nothing anywhere."""
    await NullMailer.from_config(config, reactor).send(message(config))
    assert not config.server.data_dir.exists()


# -- smtp ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_smtp_delivers_to_a_real_server(
    config: Config, smtp_servers: Callable[..., SMTPServer]
) -> None:
    """The smtp backend hands the message to the server with [mail] from as
    envelope sender and every To, Cc and Bcc address as a recipient; the Bcc
    header itself is not sent, and the text arrives intact (dot lines too)."""
    server = smtp_servers()
    m = message(config, text="Hello\n.\n..leading dots\nbye\n")
    m["Cc"] = "carol@example.com"
    m["Bcc"] = "dave@example.com"
    mailer = mailer_for(
        with_mail(config, backend="smtp", smtp_host="127.0.0.1", smtp_port=port_of(server)),
        reactor,
    )
    await mailer.send(m)

    assert [r.rcpt_to for r in server.received] == [
        "alice@example.com",
        "carol@example.com",
        "dave@example.com",
    ]
    got = server.received[0]
    assert got.mail_from == FROM
    assert not got.tls and got.login is None
    parsed = got.parsed()
    assert parsed["Message-ID"] == m["Message-ID"]
    assert parsed["Cc"] == "carol@example.com"
    assert "Bcc" not in parsed
    assert parsed.get_content() == "Hello\n.\n..leading dots\nbye\n"
    assert "Bcc" in m, "the caller's message is left as it was"


@pytest.mark.parametrize("mechanism", [b"LOGIN", b"PLAIN"])
@pytest_twisted.ensureDeferred
async def test_smtp_authenticates_when_a_username_is_set(
    config: Config, smtp_servers: Callable[..., SMTPServer], mechanism: bytes
) -> None:
    """With smtp_username set, the mailer logs in (LOGIN or PLAIN, whichever
    the server offers) before sending, as a server requiring AUTH demands."""
    server = smtp_servers({b"pleroma": b"s3cret"}, mechanisms=(mechanism,))
    mailer = smtp_mailer(port_of(server), username="pleroma", password="s3cret")
    await mailer.send(message(config))
    [got] = server.received
    assert got.login == b"pleroma"


@pytest_twisted.ensureDeferred
async def test_smtp_refused_login_fails_without_leaking_the_password(
    config: Config, smtp_servers: Callable[..., SMTPServer]
) -> None:
    """A refused login fails the send; the error (which ends up in logs and in
    the job's last_error) holds the server's answer, not the AUTH exchange.
    Without credentials, a server requiring AUTH refuses the sender."""
    server = smtp_servers({b"pleroma": b"s3cret"}, mechanisms=(b"PLAIN",))
    mailer = smtp_mailer(port_of(server), username="pleroma", password="wrong-pass")
    error = await failure_of(mailer.send(message(config)))
    assert isinstance(error, MailDeliveryError)
    text = str(error)
    assert "535" in text and "\n" not in text
    secret = base64.b64encode(b"pleroma\0pleroma\0wrong-pass").decode()
    assert "wrong-pass" not in text and secret not in text and "AUTH" not in text

    anonymous = smtp_mailer(port_of(server))
    error = await failure_of(anonymous.send(message(config)))
    assert isinstance(error, MailDeliveryError)
    assert server.received == []


@pytest_twisted.ensureDeferred
async def test_smtp_starttls_then_auth(
    config: Config, smtp_servers: Callable[..., SMTPServer], certificate: tuple[bytes, bytes]
) -> None:
    """With smtp_starttls the session switches to TLS, checking the server's
    certificate for the host name, and logs in only inside TLS."""
    server = smtp_servers({b"pleroma": b"s3cret"}, tls=server_tls(certificate))
    mailer = smtp_mailer(
        port_of(server),
        host="localhost",
        username="pleroma",
        password="s3cret",
        starttls=True,
        tls_options=trusting(certificate),
    )
    await mailer.send(message(config))
    [got] = server.received
    assert got.tls and got.login == b"pleroma"


@pytest_twisted.ensureDeferred
async def test_smtp_starttls_refuses_a_server_without_it(
    config: Config, smtp_servers: Callable[..., SMTPServer]
) -> None:
    """With smtp_starttls, a server that does not offer STARTTLS fails the send:
    no credentials and no message are sent in clear."""
    server = smtp_servers({b"pleroma": b"s3cret"})
    open_server = smtp_servers()
    for target, username in ((server, "pleroma"), (open_server, "")):
        mailer = smtp_mailer(
            port_of(target),
            host="localhost",
            username=username,
            password="s3cret",
            starttls=True,
        )
        error = await failure_of(mailer.send(message(config)))
        assert isinstance(error, MailDeliveryError)
        assert "TLS" in str(error)
    assert server.auth_attempts == 0
    assert server.received == open_server.received == []


@pytest_twisted.ensureDeferred
async def test_smtp_starttls_refuses_an_untrusted_certificate(
    config: Config, smtp_servers: Callable[..., SMTPServer], certificate: tuple[bytes, bytes]
) -> None:
    """By default the server's certificate must chain to the system's trusted
    authorities: a self-signed one fails the send before any AUTH or message."""
    server = smtp_servers({b"pleroma": b"s3cret"}, tls=server_tls(certificate))
    mailer = smtp_mailer(
        port_of(server),
        host="localhost",
        username="pleroma",
        password="s3cret",
        starttls=True,
    )
    error = await failure_of(mailer.send(message(config)))
    assert isinstance(error, MailDeliveryError)
    assert server.auth_attempts == 0 and server.received == []


@pytest_twisted.ensureDeferred
async def test_smtp_unreachable_server_fails_the_send(config: Config) -> None:
    """Nothing listening on the SMTP port: the send fails at once (no
    reconnecting of its own: the job queue retries), with a one-line error
    naming the server."""
    port = await free_port()
    started = time.monotonic()
    error = await failure_of(smtp_mailer(port).send(message(config)))
    assert time.monotonic() - started < 2.0
    assert isinstance(error, MailDeliveryError)
    assert str(error).startswith(f"smtp 127.0.0.1:{port}: ")
    assert "\n" not in str(error)


@pytest_twisted.ensureDeferred
async def test_smtp_gives_up_on_a_server_that_never_answers(config: Config) -> None:
    """A server that accepts the connection but never speaks fails the send
    after send_timeout, and the connection is dropped."""
    lost: Deferred[None] = Deferred()

    class Silent(Protocol):
        def connectionLost(self, reason: Any = None) -> None:
            lost.callback(None)

    port = reactor.listenTCP(0, Factory.forProtocol(Silent), interface="127.0.0.1")
    try:
        clock = task.Clock()
        mailer = smtp_mailer(port.getHost().port, send_timeout=60.0, clock=clock)
        d = mailer.send(message(config))
        await sleep(0.1)
        assert not d.called
        clock.advance(60)
        error = await failure_of(d)
        assert isinstance(error, MailDeliveryError)
        assert "within 60 s" in str(error)
        await eventually(lambda: lost.called, "the connection is dropped")
    finally:
        await port.stopListening()


# -- the durable path ---------------------------------------------------------------


def job_rows(dsn: str) -> list[tuple[Any, ...]]:
    return query(dsn, "SELECT kind, state, attempts, max_attempts, last_error FROM jobs")


@pytest_twisted.ensureDeferred
async def test_queued_mail_is_delivered_by_the_job_runner(
    config: Config,
    db: Database,
    dsn: str,
    smtp_servers: Callable[..., SMTPServer],
    start_runner: StartRunner,
) -> None:
    """A message queued with enqueue_mail_txn is delivered byte for byte by a
    runner with mail_job_handler, and its job is then gone."""
    server = smtp_servers()
    runner = await start_runner(
        {MAIL_JOB: mail_job_handler(smtp_mailer(port_of(server)))},
        poll_interval=3600,
        rescue_interval=3600,
    )
    m = message(config, text="Welcome aboard, ünïcode and all.\n")
    await db.run_interaction("queue mail", enqueue_mail_txn, m)
    runner.wake()  # waking on NOTIFY is test_jobs' concern, not this one's

    [got] = await eventually(lambda: server.received, "the mail is delivered")
    assert got.parsed()["Message-ID"] == m["Message-ID"]
    assert got.parsed().get_content() == "Welcome aboard, ünïcode and all.\n"
    assert got.data == m.as_bytes()
    await eventually(lambda: not job_rows(dsn), "the job is deleted")


@pytest_twisted.ensureDeferred
async def test_queued_mail_survives_an_smtp_outage(
    config: Config,
    db: Database,
    dsn: str,
    smtp_servers: Callable[..., SMTPServer],
    start_runner: StartRunner,
) -> None:
    """While the SMTP server is down the attempt fails and the job stays
    queued ('pending', last_error set, MAIL_MAX_ATTEMPTS allowed); once the
    server is up and the backoff has passed, the mail is delivered."""
    port = await free_port()
    clock = task.Clock()
    clock.advance(time.time())
    runner = await start_runner(
        {MAIL_JOB: mail_job_handler(smtp_mailer(port))},
        clock=clock,
        backoff_base=5.0,
        poll_interval=3600,
        rescue_interval=3600,
    )
    m = message(config)
    await db.run_interaction("queue mail", enqueue_mail_txn, m)
    runner.wake()

    def failed_once() -> Any:
        rows = job_rows(dsn)
        return rows if rows and rows[0][1] == "pending" and rows[0][2] == 1 else None

    [(kind, _state, _attempts, max_attempts, last_error)] = await eventually(
        failed_once, "the first attempt fails"
    )
    assert (kind, max_attempts) == (MAIL_JOB, MAIL_MAX_ATTEMPTS)
    assert f"smtp 127.0.0.1:{port}" in last_error

    server = smtp_servers(port=port)
    runner.wake()
    await sleep(0.2)
    assert server.received == [], "not retried before its backoff"

    clock.advance(5.1)
    runner.wake()
    [got] = await eventually(lambda: server.received, "the mail is delivered")
    assert got.parsed()["Message-ID"] == m["Message-ID"]
    await eventually(lambda: not job_rows(dsn), "the job is deleted")
