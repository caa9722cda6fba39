"""The configuration file, read once at start into one immutable `Config`.

This is the only module that looks at TOML. Everything downstream receives
typed, validated, absolute values, so that a mistake in the file stops the
daemon at start with one line naming the key instead of surfacing later as a
traceback in a request.

Each section is a frozen dataclass whose fields declare, through `_option`,
their TOML key, default and converter: the dataclass *is* the table of keys,
so the schema, the defaults and the validation cannot drift apart.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar
from urllib.parse import urlsplit

from pleromad import __version__

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "SECTIONS",
    "CaptchaConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "EmojiConfig",
    "FederationConfig",
    "InstanceConfig",
    "MailConfig",
    "MediaConfig",
    "MetricsConfig",
    "ProxyConfig",
    "RateLimitsConfig",
    "ServerConfig",
    "WorkersConfig",
    "load_config",
    "toml_key",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A converter turns a raw TOML value into the field's value, raising _Invalid.
# The second argument is the folder relative paths resolve against.
Converter = Callable[[Any, Path], Any]

_S = TypeVar("_S", bound="DataclassInstance")


class ConfigError(Exception):
    """The configuration cannot be used; `str()` is one line naming the key.

    The daemon and pleromad-ctl print it as `pleromad: config error: ...`
    and exit, so it must never need a traceback to be understood.
    """


class _Invalid(ValueError):
    """A converter's complaint, before it knows which key it is about."""


def _option(
    default: Any,
    convert: Converter,
    *,
    doc: str,
    key: str | None = None,
    secret: bool = False,
) -> Any:
    """Declare a field's TOML default (as TOML would spell it), converter and
    ``doc``, the operator's description that etc/pleromad.toml and
    docs/configuration.md are generated from (:mod:`pleromad.config_docs`).

    The default goes through the converter like a value from the file, so
    defaults are validated and relative default paths resolve the same way.
    The dataclass field itself stays required: a section is only ever built
    from validated values. A `secret` is left out of repr() so that logging
    the configuration does not leak it.
    """
    metadata = {"default": default, "convert": convert, "key": key, "doc": doc}
    return field(repr=not secret, metadata=metadata)


def toml_key(f: Field[Any]) -> str:
    return f.metadata["key"] or f.name


# -- converters -------------------------------------------------------------


def _show(value: Any) -> str:
    """Render a TOML value for an error message: short, and on one line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value)  # quotes it and escapes newlines
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_show(item) for item in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _name(key: str) -> str:
    """A section or key name as written, quoted if it would break the line."""
    return key if key.isprintable() else json.dumps(key)


def _expect(kind: str, value: Any) -> _Invalid:
    return _Invalid(f"expected {kind}, got {_show(value)}")


def _is_int(value: Any) -> TypeGuard[int]:
    # bool is a subclass of int in Python, but `true` is not a number in TOML.
    return isinstance(value, int) and not isinstance(value, bool)


def _boolean(value: Any, base: Path) -> bool:
    if not isinstance(value, bool):
        raise _expect("a boolean (true or false)", value)
    return value


def _string(*, nonempty: bool = False) -> Converter:
    def convert(value: Any, base: Path) -> str:
        if not isinstance(value, str):
            raise _expect("a string", value)
        if nonempty and not value.strip():
            raise _Invalid("must not be empty")
        return value

    return convert


def _integer(low: int = 1, high: int | None = None) -> Converter:
    def convert(value: Any, base: Path) -> int:
        if not _is_int(value):
            raise _expect("an integer", value)
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise _Invalid(f"must be {bounds}, got {value}")
        return value

    return convert


_ADDRESS = r"[^\s@<>,]+@[^\s@<>,]+"


def _email(*, named: bool = False) -> Converter:
    """Loosely an address: a typo should fail at start, not at delivery.

    `named` also accepts "Display Name <local@domain>", as a sender may be.
    Line breaks are refused either way: the value ends up in mail headers.
    """
    forms = [_ADDRESS] + ([rf"[^<>\x00-\x1f\x7f]*<{_ADDRESS}>"] if named else [])

    def convert(value: Any, base: Path) -> str:
        if not isinstance(value, str):
            raise _expect("a string", value)
        if not any(re.fullmatch(form, value) for form in forms):
            raise _expect("an e-mail address", value)
        return value

    return convert


def _http_url(*, allow_empty: bool = False) -> Converter:
    """An absolute http(s) URL, trailing slash removed so paths can be appended."""

    def convert(value: Any, base: Path) -> str:
        if not isinstance(value, str):
            raise _expect("a string", value)
        if allow_empty and value == "":
            return value
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError on a malformed port
        except ValueError:
            raise _expect("an http or https URL", value) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _expect("an absolute http or https URL", value)
        if "?" in value or "#" in value:
            raise _Invalid(f"must not have a query or fragment, got {_show(value)}")
        return value.rstrip("/")

    return convert


def _path(*, optional: bool = False) -> Converter:
    """An absolute path; "" means "not set" where `optional`.

    `~` is expanded because operators write it, and `..` is collapsed
    without touching the filesystem: the folder may not exist yet.
    """

    def convert(value: Any, base: Path) -> Path | None:
        if not isinstance(value, str):
            raise _expect("a string", value)
        if value == "":
            if optional:
                return None
            raise _Invalid("must not be empty")
        return Path(os.path.abspath(base / Path(value).expanduser()))

    return convert


def _array(value: Any, kind: str) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):  # defaults are spelled as tuples
        raise _expect(kind, value)
    return value


def _strings(value: Any, base: Path) -> tuple[str, ...]:
    items = _array(value, "an array of strings")
    for index, item in enumerate(items, 1):
        if not isinstance(item, str):
            raise _Invalid(f"item {index}: expected a string, got {_show(item)}")
    return tuple(items)


def _rate(value: Any, base: Path) -> tuple[int, int]:
    kind = "[requests, seconds] (two positive integers)"
    items = _array(value, kind)
    if len(items) != 2 or not all(_is_int(item) and item >= 1 for item in items):
        raise _expect(kind, value)
    return (items[0], items[1])


def _hosts(value: Any, base: Path) -> tuple[str, ...]:
    """Host names (with a port where one is meant), compared lowercased."""
    hosts = _strings(value, base)
    for index, host in enumerate(hosts, 1):
        if not host or any(c in host for c in "/@ \t") or host != host.strip():
            raise _Invalid(
                f"item {index}: expected a host name like example.org, got {_show(host)}"
            )
    return tuple(host.lower() for host in hosts)


def _networks(value: Any, base: Path) -> tuple[IPNetwork, ...]:
    items = _array(value, "an array of IP addresses or networks")
    networks = []
    for index, item in enumerate(items, 1):
        if not isinstance(item, str):
            raise _Invalid(f"item {index}: expected a string, got {_show(item)}")
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise _Invalid(
                f"item {index}: expected an IP address or network, got {_show(item)}"
            ) from None
    return tuple(networks)


# -- the sections -----------------------------------------------------------

# Pleroma's own list: paths a nickname would shadow at the root of the site.
_RESERVED_NICKNAMES = (
    ".well-known", "~", "about", "activities", "api", "auth", "check_password",
    "dev", "friend-requests", "inbox", "internal", "main", "media", "nodeinfo",
    "notice", "oauth", "objects", "ostatus_subscribe", "pleroma", "proxy",
    "push", "registration", "relay", "settings", "status", "tag",
    "user-search", "user_exists", "users", "web",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: str = _option(
        "tcp:4000:interface=127.0.0.1",
        _string(nonempty=True),
        doc=(
            "Where to accept HTTP connections: any Twisted server endpoint string, e.g. "
            '"tcp:4000:interface=127.0.0.1", "unix:/run/pleromad.sock", or '
            '"systemd:domain=INET:index=0" under systemd socket activation.'
        ),
    )
    base_url: str = _option(
        "http://localhost:4000",
        _http_url(),
        doc=(
            "Public URL of the instance (http or https, no query or fragment). Every id, url and "
            "link the API returns derives from it; a trailing slash is removed."
        ),
    )
    data_dir: Path = _option(
        "pleromad-data",
        _path(),
        doc="Holds the embedded PostgreSQL, uploads and the mail spool. Created if missing.",
    )


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    dsn: str = _option(
        "",
        _string(),
        doc=(
            'PostgreSQL to use: a libpq URI ("postgresql://user:pass@host/db") or a key=value DSN'
            ' ("host=... dbname=..."). Empty = an embedded PostgreSQL server kept under '
            "<data_dir>/postgres, started and stopped with the daemon."
        ),
    )
    pool_size: int = _option(10, _integer(1, 1000), doc="Connections per daemon, 1..1000.")


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    name: str = _option(
        "Pleroma",
        _string(),
        doc="The instance's name, shown to clients (/api/v1/instance, nodeinfo) and in e-mails.",
    )
    description: str = _option(
        "A Pleroma instance",
        _string(),
        doc="A sentence about the instance, shown where its name is.",
    )
    email: str = _option(
        "admin@localhost",
        _email(),
        doc="Administrator's contact address, published in /api/v1/instance.",
    )
    registrations_open: bool = _option(
        True,
        _boolean,
        doc=(
            "Whether anyone may sign up. With false, only invite holders can (if invites_enabled)"
            " and admins can create accounts with pleromad-ctl."
        ),
    )
    invites_enabled: bool = _option(
        False, _boolean, doc="Whether invite tokens (pleromad-ctl user invite) allow sign-up."
    )
    account_activation_required: bool = _option(
        False,
        _boolean,
        doc="Whether new accounts must confirm their e-mail address before logging in.",
    )
    healthcheck: bool = _option(
        True,
        _boolean,
        doc=(
            "Whether GET /api/pleroma/healthcheck reports on the database; false: it always "
            "answers 503 {}."
        ),
    )
    status_limit: int = _option(5000, _integer(), doc="Maximum length of a status, in characters.")
    user_bio_length: int = _option(
        5000, _integer(), doc="Maximum length of a profile bio, in characters."
    )
    user_name_length: int = _option(
        100, _integer(), doc="Maximum length of a display name, in characters."
    )
    upload_limit: int = _option(
        16_000_000,
        _integer(),
        doc="Maximum size of an uploaded file (attachments, the mascot), in bytes.",
    )
    avatar_upload_limit: int = _option(
        2_000_000, _integer(), doc="Maximum size of an avatar, in bytes."
    )
    banner_upload_limit: int = _option(
        4_000_000, _integer(), doc="Maximum size of a profile banner, in bytes."
    )
    background_upload_limit: int = _option(
        4_000_000, _integer(), doc="Maximum size of a profile background, in bytes."
    )
    reserved_nicknames: tuple[str, ...] = _option(
        _RESERVED_NICKNAMES,
        _strings,
        doc=(
            "Nicknames nobody may register (an array of strings). The default is Pleroma's "
            'reserved list: ".well-known", "~", "about", "activities", "api", "auth", '
            '"check_password", "dev", "friend-requests", "inbox", "internal", "main", "media", '
            '"nodeinfo", "notice", "oauth", "objects", "ostatus_subscribe", "pleroma", "proxy", '
            '"push", "registration", "relay", "settings", "status", "tag", "user-search", '
            '"user_exists", "users", "web". Setting it replaces that list rather than adding to '
            "it."
        ),
    )


@dataclass(frozen=True, slots=True)
class CaptchaConfig:
    enabled: bool = _option(False, _boolean, doc="Whether sign-up requires solving a captcha.")
    # Any string: providers are plugins, resolved by name when the service starts.
    provider: str = _option(
        "native",
        _string(nonempty=True),
        doc=(
            '"native" (images drawn with Pillow), "kocaptcha", or the name of any installed '
            "captcha provider plugin."
        ),
    )
    seconds_valid: int = _option(
        60, _integer(), doc="How long a captcha answer stays valid, in seconds."
    )
    kocaptcha_endpoint: str = _option(
        "https://captcha.kotobank.ch",
        _http_url(),
        doc='The kocaptcha service, used when provider = "kocaptcha" (http or https URL).',
    )


@dataclass(frozen=True, slots=True)
class MailConfig:
    # Any installed IMailerFactory plugin's name; checked against them at start.
    backend: str = _option(
        "maildir",
        _string(nonempty=True),
        doc=(
            'How e-mail (confirmations, password resets) is sent: "maildir" (written to a Maildir'
            ' under <data_dir>/mail), "smtp", "none" (not sent at all), or the name of an '
            "installed mailer plugin."
        ),
    )
    from_address: str = _option(
        "noreply@localhost",
        _email(named=True),
        key="from",
        doc='Sender of every e-mail: "address" or "Display Name <address>".',
    )
    smtp_host: str = _option("localhost", _string(), doc='SMTP server, used when backend = "smtp".')
    smtp_port: int = _option(25, _integer(1, 65535), doc="SMTP port, 1..65535.")
    smtp_username: str = _option(
        "",
        _string(),
        doc="SMTP login; leave it and smtp_password empty to send without authenticating.",
    )
    smtp_password: str = _option(
        "", _string(), secret=True, doc="SMTP password (kept out of logs)."
    )
    smtp_starttls: bool = _option(
        False, _boolean, doc="Whether to upgrade the SMTP connection with STARTTLS."
    )


@dataclass(frozen=True, slots=True)
class MediaConfig:
    # Any string: uploaders are plugins, resolved by name when the service starts.
    backend: str = _option(
        "local",
        _string(nonempty=True),
        doc=(
            'Where uploads are stored: "local" (files under <data_dir>/uploads, served at '
            '<base_url>/media/), "s3" (a bucket of any S3-compatible store, see the s3_ keys) '
            "or the name of any installed uploader plugin."
        ),
    )
    # "" in the file; load_config replaces it with <server.base_url>/media.
    base_url: str = _option(
        "",
        _http_url(allow_empty=True),
        doc=(
            "Public URL uploaded files are served from (http or https), for the local "
            "backend. Empty = <server base_url>/media."
        ),
    )
    s3_bucket: str = _option("", _string(), doc='The bucket, for backend = "s3".')
    s3_endpoint: str = _option(
        "",
        _http_url(allow_empty=True),
        doc=(
            "The S3 API's URL for a store other than AWS (MinIO, Garage, Ceph...), addressed "
            "path-style (<endpoint>/<bucket>/<key>). Empty = AWS, "
            "https://<bucket>.s3.<region>.amazonaws.com."
        ),
    )
    s3_region: str = _option(
        "us-east-1", _string(nonempty=True), doc="The region requests are signed for."
    )
    s3_access_key: str = _option("", _string(), doc="The access key id requests are signed with.")
    s3_secret_key: str = _option(
        "", _string(), secret=True, doc="The secret access key (kept out of logs)."
    )
    s3_public_url: str = _option(
        "",
        _http_url(allow_empty=True),
        doc=(
            "Where clients fetch the bucket's files (a CDN, or the bucket's public URL); "
            "the bucket must allow public reads. Empty = the bucket's own URL."
        ),
    )


@dataclass(frozen=True, slots=True)
class EmojiConfig:
    dir: Path | None = _option(
        "",
        _path(optional=True),
        doc=(
            'Folder of custom emoji: pack subfolders and/or an emoji.txt with lines "shortcode, '
            'path[, tag, ...]" (path relative to the folder or /emoji/...). Files must stay '
            "inside the folder. Empty = the bundled default set, which a folder replaces. "
            "Reloaded on SIGHUP (systemctl reload pleromad)."
        ),
    )


@dataclass(frozen=True, slots=True)
class RateLimitsConfig:
    enabled: bool = _option(
        True,
        _boolean,
        doc=(
            "Whether the limits below apply. Each is [requests, seconds]: at most that many "
            "requests within that many seconds, per client IP address (per user when "
            'authenticated). Over the limit: 429 {"error": "Throttled"}.'
        ),
    )
    registration: tuple[int, int] = _option(
        (5, 1800), _rate, doc="Sign-up attempts, successful or not."
    )
    failed_login: tuple[int, int] = _option(
        (15, 60),
        _rate,
        doc="Failed logins (HTTP Basic, the password grant and the authorize form).",
    )
    password_reset: tuple[int, int] = _option(
        (5, 1800), _rate, doc="Password-reset e-mail requests."
    )
    confirmation_resend: tuple[int, int] = _option(
        (5, 1800), _rate, doc="Requests to resend the e-mail confirmation."
    )


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    trusted: tuple[IPNetwork, ...] = _option(
        (),
        _networks,
        doc=(
            "Reverse proxies whose X-Forwarded-For header is believed when working out the "
            "client's address (for rate limits and logs): IP addresses or CIDR networks, e.g. "
            '["127.0.0.1", "::1", "10.0.0.0/8"]. Empty = none: the connection\'s peer address is '
            "the client's."
        ),
    )


@dataclass(frozen=True, slots=True)
class FederationConfig:
    enabled: bool = _option(
        True,
        _boolean,
        doc=(
            "ActivityPub with other servers (Pleroma, Mastodon, ...). false: nothing is fetched "
            "or delivered, and the inboxes answer 403."
        ),
    )
    # Fetch from and deliver to loopback and private addresses (tests, closed networks).
    allow_private_addresses: bool = _option(
        False,
        _boolean,
        doc=(
            "Fetch from and deliver to loopback, private, link-local and multicast addresses. "
            "Leave false on the internet: it guards against requests forged to reach the server's"
            " own network (tests and closed networks set it)."
        ),
    )
    blocked_instances: tuple[str, ...] = _option(
        (),
        _hosts,
        doc='Hosts (e.g. "spam.example") nothing is accepted from and nothing delivered to.',
    )
    quarantined_instances: tuple[str, ...] = _option(
        (), _hosts, doc="Hosts that are sent no followers-only or direct posts."
    )
    timeout: int = _option(
        30, _integer(1, 3600), doc="Seconds one fetch or delivery may take, connecting included."
    )
    max_body: int = _option(
        1_000_000,
        _integer(1024),
        doc="Bytes: the largest inbox POST accepted and the largest document fetched.",
    )
    # "" in the file; load_config replaces it with "pleromad/<version>; +<base_url>".
    user_agent: str = _option(
        "",
        _string(),
        doc='The User-Agent of every outgoing request. Empty = "pleromad/<version>; +<base_url>".',
    )


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: str = _option(
        "",
        _string(),
        doc=(
            "Where to serve Prometheus metrics at /metrics: a Twisted server endpoint string "
            'of its own, e.g. "tcp:9090:interface=127.0.0.1" (never the public [server] listen). '
            "Empty = no metrics. Anyone who reaches it can read them: keep it private."
        ),
    )


@dataclass(frozen=True, slots=True)
class WorkersConfig:
    password_queue: int = _option(
        32,
        _integer(1, 100_000),
        doc=(
            "Password hashes and checks (sign-ups, logins, password changes) that may run or "
            "wait at once. CPU-heavy work runs on one thread fewer than the CPUs the daemon may "
            "use (its CPU affinity; at least one), so that a core stays free for requests; a "
            'request that would exceed this bound answers 503 {"error": ...} with Retry-After.'
        ),
    )
    image_queue: int = _option(
        8,
        _integer(1, 100_000),
        doc=(
            "Uploaded images being checked and re-encoded (media, avatars, banners, "
            "backgrounds, mascots) that may run or wait at once, on the same threads; beyond "
            "it an upload answers 503 with Retry-After. Native captchas being drawn have a "
            "bound of this size of their own."
        ),
    )


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the daemon was configured with; `source` is the file, if any."""

    server: ServerConfig
    database: DatabaseConfig
    instance: InstanceConfig
    captcha: CaptchaConfig
    mail: MailConfig
    media: MediaConfig
    emoji: EmojiConfig
    rate_limits: RateLimitsConfig
    proxy: ProxyConfig
    federation: FederationConfig
    metrics: MetricsConfig
    workers: WorkersConfig
    source: Path | None


# TOML section name -> its dataclass; the name is also the attribute on Config.
SECTIONS: tuple[tuple[str, type[DataclassInstance]], ...] = (
    ("server", ServerConfig),
    ("database", DatabaseConfig),
    ("instance", InstanceConfig),
    ("captcha", CaptchaConfig),
    ("mail", MailConfig),
    ("media", MediaConfig),
    ("emoji", EmojiConfig),
    ("rate_limits", RateLimitsConfig),
    ("proxy", ProxyConfig),
    ("federation", FederationConfig),
    ("metrics", MetricsConfig),
    ("workers", WorkersConfig),
)


# -- loading ----------------------------------------------------------------


def _convert(where: str, f: Field[Any], value: Any, base: Path) -> Any:
    try:
        return f.metadata["convert"](value, base)
    except _Invalid as err:
        raise ConfigError(f"{where}: {err}") from None


def _section(cls: type[_S], name: str, table: Any, base: Path) -> _S:
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}]: expected a table, got {_show(table)}")
    options = {toml_key(f): f for f in fields(cls)}
    for key in table:
        if key not in options:
            raise ConfigError(f"[{name}] {_name(key)}: unknown key")
    values = {
        f.name: _convert(f"[{name}] {key}", f, table.get(key, f.metadata["default"]), base)
        for key, f in options.items()
    }
    return cls(**values)


def _override(section: _S, attr: str, flag: str, value: str | None) -> _S:
    """Apply a command-line option, validated like the key it replaces.

    The base is the working directory: that is where a path typed on the
    command line is relative to, whatever folder the file lives in.
    """
    if value is None:
        return section
    (f,) = (f for f in fields(section) if f.name == attr)
    return replace(section, **{attr: _convert(flag, f, value, Path.cwd())})


def _read(path: Path, shown: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{shown}: cannot read: {err.strerror or err}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{shown}: invalid TOML: not UTF-8 ({err.reason})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{shown}: invalid TOML: {err}") from None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    listen: str | None = None,
    data_dir: str | None = None,
    dsn: str | None = None,
) -> Config:
    """Read, validate and resolve the configuration; raise `ConfigError` if unusable.

    With no `path` the built-in defaults apply, with relative paths against
    the working directory. The keyword arguments are the command-line
    overrides (`--listen`, `--data-dir`, `--dsn`) and win over the file.
    """
    if path is None:
        source, base, raw = None, Path.cwd(), {}
    else:
        source = Path(os.path.abspath(path))
        base, raw = source.parent, _read(source, os.fspath(path))

    known = {name for name, _ in SECTIONS}
    for name in raw:
        if name not in known:
            raise ConfigError(f"[{_name(name)}]: unknown section")
    sections: dict[str, Any] = {
        name: _section(cls, name, raw.get(name, {}), base) for name, cls in SECTIONS
    }

    server: ServerConfig = sections["server"]
    server = _override(server, "listen", "--listen", listen)
    server = _override(server, "data_dir", "--data-dir", data_dir)
    sections["server"] = server
    sections["database"] = _override(sections["database"], "dsn", "--dsn", dsn)

    media: MediaConfig = sections["media"]
    if not media.base_url:
        sections["media"] = replace(media, base_url=f"{server.base_url}/media")

    federation: FederationConfig = sections["federation"]
    if not federation.user_agent:
        agent = f"pleromad/{__version__}; +{server.base_url}"
        sections["federation"] = replace(federation, user_agent=agent)

    mail: MailConfig = sections["mail"]
    if mail.backend == "smtp" and not mail.smtp_host.strip():
        raise ConfigError('[mail] smtp_host: must not be empty when backend = "smtp"')

    return Config(**sections, source=source)
