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
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from pleromad import __version__

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "CaptchaConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "EmojiConfig",
    "FederationConfig",
    "InstanceConfig",
    "MailConfig",
    "MediaConfig",
    "ProxyConfig",
    "RateLimitsConfig",
    "ServerConfig",
    "load_config",
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
    default: Any, convert: Converter, *, key: str | None = None, secret: bool = False
) -> Any:
    """Declare a field's TOML default (as TOML would spell it) and converter.

    The default goes through the converter like a value from the file, so
    defaults are validated and relative default paths resolve the same way.
    The dataclass field itself stays required: a section is only ever built
    from validated values. A `secret` is left out of repr() so that logging
    the configuration does not leak it.
    """
    metadata = {"default": default, "convert": convert, "key": key}
    return field(repr=not secret, metadata=metadata)


def _toml_key(f: Field[Any]) -> str:
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


def _is_int(value: Any) -> bool:
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
    listen: str = _option("tcp:4000:interface=127.0.0.1", _string(nonempty=True))
    base_url: str = _option("http://localhost:4000", _http_url())
    data_dir: Path = _option("pleromad-data", _path())


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    dsn: str = _option("", _string())  # "" = the embedded PostgreSQL
    pool_size: int = _option(10, _integer(1, 1000))


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    name: str = _option("Pleroma", _string())
    description: str = _option("A Pleroma instance", _string())
    email: str = _option("admin@localhost", _email())
    registrations_open: bool = _option(True, _boolean)
    invites_enabled: bool = _option(False, _boolean)
    account_activation_required: bool = _option(False, _boolean)
    healthcheck: bool = _option(True, _boolean)
    status_limit: int = _option(5000, _integer())
    user_bio_length: int = _option(5000, _integer())
    user_name_length: int = _option(100, _integer())
    upload_limit: int = _option(16_000_000, _integer())
    avatar_upload_limit: int = _option(2_000_000, _integer())
    banner_upload_limit: int = _option(4_000_000, _integer())
    background_upload_limit: int = _option(4_000_000, _integer())
    reserved_nicknames: tuple[str, ...] = _option(_RESERVED_NICKNAMES, _strings)


@dataclass(frozen=True, slots=True)
class CaptchaConfig:
    enabled: bool = _option(False, _boolean)
    # Any string: providers are plugins, resolved by name when the service starts.
    provider: str = _option("native", _string(nonempty=True))
    seconds_valid: int = _option(60, _integer())
    kocaptcha_endpoint: str = _option("https://captcha.kotobank.ch", _http_url())


@dataclass(frozen=True, slots=True)
class MailConfig:
    # Any installed IMailerFactory plugin's name; checked against them at start.
    backend: str = _option("maildir", _string(nonempty=True))
    from_address: str = _option("noreply@localhost", _email(named=True), key="from")
    smtp_host: str = _option("localhost", _string())
    smtp_port: int = _option(25, _integer(1, 65535))
    smtp_username: str = _option("", _string())
    smtp_password: str = _option("", _string(), secret=True)
    smtp_starttls: bool = _option(False, _boolean)


@dataclass(frozen=True, slots=True)
class MediaConfig:
    # Any string: uploaders are plugins, resolved by name when the service starts.
    backend: str = _option("local", _string(nonempty=True))
    # "" in the file; load_config replaces it with <server.base_url>/media.
    base_url: str = _option("", _http_url(allow_empty=True))


@dataclass(frozen=True, slots=True)
class EmojiConfig:
    dir: Path | None = _option("", _path(optional=True))  # None = the bundled set


@dataclass(frozen=True, slots=True)
class RateLimitsConfig:
    enabled: bool = _option(True, _boolean)
    registration: tuple[int, int] = _option((5, 1800), _rate)
    failed_login: tuple[int, int] = _option((15, 60), _rate)
    password_reset: tuple[int, int] = _option((5, 1800), _rate)
    confirmation_resend: tuple[int, int] = _option((5, 1800), _rate)


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    trusted: tuple[IPNetwork, ...] = _option((), _networks)


@dataclass(frozen=True, slots=True)
class FederationConfig:
    enabled: bool = _option(True, _boolean)
    # Fetch from and deliver to loopback and private addresses (tests, closed networks).
    allow_private_addresses: bool = _option(False, _boolean)
    blocked_instances: tuple[str, ...] = _option((), _hosts)
    quarantined_instances: tuple[str, ...] = _option((), _hosts)
    timeout: int = _option(30, _integer(1, 3600))
    max_body: int = _option(1_000_000, _integer(1024))
    # "" in the file; load_config replaces it with "pleromad/<version>; +<base_url>".
    user_agent: str = _option("", _string())


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
    source: Path | None


# TOML section name -> its dataclass; the name is also the attribute on Config.
_SECTIONS: tuple[tuple[str, type[DataclassInstance]], ...] = (
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
    options = {_toml_key(f): f for f in fields(cls)}
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

    known = {name for name, _ in _SECTIONS}
    for name in raw:
        if name not in known:
            raise ConfigError(f"[{_name(name)}]: unknown section")
    sections: dict[str, Any] = {
        name: _section(cls, name, raw.get(name, {}), base) for name, cls in _SECTIONS
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
