"""The configuration contract of DESIGN.md, checked against `pleromad.config`."""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from pathlib import Path

import pytest

from pleromad import __version__, config_docs
from pleromad.config import SECTIONS as DECLARED_SECTIONS
from pleromad.config import (
    CaptchaConfig,
    Config,
    ConfigError,
    DatabaseConfig,
    EmojiConfig,
    FederationConfig,
    InstanceConfig,
    MailConfig,
    MediaConfig,
    MetricsConfig,
    ProxyConfig,
    RateLimitsConfig,
    ServerConfig,
    WorkersConfig,
    load_config,
)

SAMPLE = Path(__file__).resolve().parent.parent / "etc" / "pleromad.toml"

SECTIONS = (
    "server", "database", "instance", "captcha", "mail",
    "media", "emoji", "rate_limits", "proxy", "federation", "metrics", "workers",
)  # fmt: skip

PLEROMA_RESERVED = (
    ".well-known", "~", "about", "activities", "api", "auth", "check_password",
    "dev", "friend-requests", "inbox", "internal", "main", "media", "nodeinfo",
    "notice", "oauth", "objects", "ostatus_subscribe", "pleroma", "proxy",
    "push", "registration", "relay", "settings", "status", "tag",
    "user-search", "user_exists", "users", "web",
)  # fmt: skip


def write(folder: Path, text: str, name: str = "pleromad.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, **overrides: str) -> Config:
    return load_config(write(tmp_path, text), **overrides)


def error_for(tmp_path: Path, text: str, **overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, **overrides)
    message = str(info.value)
    assert "\n" not in message and message == message.strip()
    return message


def toml_keys(config: Config) -> dict[str, set[str]]:
    """The TOML keys of each section, as the file spells them."""
    spelling = {"from_address": "from"}
    return {
        section: {
            spelling.get(f.name, f.name) for f in dataclasses.fields(getattr(config, section))
        }
        for section in SECTIONS
    }


# -- defaults and the sample ------------------------------------------------


def test_defaults_are_those_of_design(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a file every key has DESIGN.md's default, and data_dir is under the working directory."""
    monkeypatch.chdir(tmp_path)
    assert load_config() == Config(
        server=ServerConfig(
            listen="tcp:4000:interface=127.0.0.1",
            base_url="http://localhost:4000",
            data_dir=tmp_path / "pleromad-data",
        ),
        database=DatabaseConfig(dsn="", pool_size=10),
        instance=InstanceConfig(
            name="Pleroma",
            description="A Pleroma instance",
            email="admin@localhost",
            registrations_open=True,
            invites_enabled=False,
            account_activation_required=False,
            healthcheck=True,
            status_limit=5000,
            user_bio_length=5000,
            user_name_length=100,
            upload_limit=16_000_000,
            avatar_upload_limit=2_000_000,
            banner_upload_limit=4_000_000,
            background_upload_limit=4_000_000,
            reserved_nicknames=PLEROMA_RESERVED,
        ),
        captcha=CaptchaConfig(
            enabled=False,
            provider="native",
            seconds_valid=60,
            kocaptcha_endpoint="https://captcha.kotobank.ch",
        ),
        mail=MailConfig(
            backend="maildir",
            from_address="noreply@localhost",
            smtp_host="localhost",
            smtp_port=25,
            smtp_username="",
            smtp_password="",
            smtp_starttls=False,
        ),
        media=MediaConfig(
            backend="local",
            base_url="http://localhost:4000/media",
            s3_bucket="",
            s3_endpoint="",
            s3_region="us-east-1",
            s3_access_key="",
            s3_secret_key="",
            s3_public_url="",
        ),
        emoji=EmojiConfig(dir=None),
        rate_limits=RateLimitsConfig(
            enabled=True,
            registration=(5, 1800),
            failed_login=(15, 60),
            password_reset=(5, 1800),
            confirmation_resend=(5, 1800),
        ),
        proxy=ProxyConfig(trusted=()),
        federation=FederationConfig(
            enabled=True,
            allow_private_addresses=False,
            blocked_instances=(),
            quarantined_instances=(),
            timeout=30,
            max_body=1_000_000,
            user_agent=f"pleromad/{__version__}; +http://localhost:4000",
        ),
        metrics=MetricsConfig(listen=""),
        workers=WorkersConfig(password_queue=32, image_queue=8),
        source=None,
    )


def test_federation_hosts_are_lowercased_and_checked(tmp_path: Path) -> None:
    """Instance lists hold bare host names, compared without regard to case."""
    path = write(tmp_path, '[federation]\nblocked_instances = ["Spam.Example", "b.example:8443"]\n')
    assert load_config(path).federation.blocked_instances == ("spam.example", "b.example:8443")
    message = error_for(tmp_path, '[federation]\nquarantined_instances = ["https://x.example/"]\n')
    assert message.startswith("[federation] quarantined_instances: item 1: expected a host name")


def test_user_agent_names_the_instance(tmp_path: Path) -> None:
    """The default User-Agent carries the version and the public URL; a set one is kept."""
    path = write(tmp_path, '[server]\nbase_url = "https://social.example"\n')
    assert load_config(path).federation.user_agent == (
        f"pleromad/{__version__}; +https://social.example"
    )
    path = write(tmp_path, '[federation]\nuser_agent = "custom/1"\n')
    assert load_config(path).federation.user_agent == "custom/1"


def test_empty_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty file changes nothing but the source and where data_dir resolves."""
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "etc", "")
    config = load_config(path)
    assert config.source == path
    assert config.server.data_dir == tmp_path / "etc" / "pleromad-data"
    defaults = load_config()
    assert dataclasses.replace(config, source=None, server=defaults.server) == defaults


def test_sample_parses_to_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """etc/pleromad.toml sets every key to its default; only paths resolve against etc/."""
    monkeypatch.chdir(tmp_path)
    sample = load_config(SAMPLE)
    defaults = load_config()
    assert sample.source == SAMPLE
    assert sample.server.data_dir == SAMPLE.parent / "pleromad-data"
    assert sample.emoji.dir is None
    normalised = dataclasses.replace(
        sample,
        source=None,
        server=dataclasses.replace(sample.server, data_dir=defaults.server.data_dir),
    )
    assert normalised == defaults


def test_sample_and_reference_are_written_from_the_code() -> None:
    """etc/pleromad.toml and docs/configuration.md are exactly what
    `python -m pleromad.config_docs` writes from the declared keys."""
    root = SAMPLE.parent.parent
    assert SAMPLE.read_text(encoding="utf-8") == config_docs.sample()
    reference = (root / config_docs.REFERENCE_PATH).read_text(encoding="utf-8")
    assert reference == config_docs.reference()


def test_every_key_is_described() -> None:
    """No key goes undocumented: each has a description and a kind the reference can name."""
    for _name, cls in DECLARED_SECTIONS:
        for f in dataclasses.fields(cls):
            assert f.metadata["doc"].strip(), f.name
            assert str(f.type) in config_docs._KINDS, f.type


def test_sample_lists_every_key() -> None:
    """etc/pleromad.toml spells out every section and key; reserved_nicknames only as a comment."""
    raw = tomllib.loads(SAMPLE.read_text(encoding="utf-8"))
    expected = toml_keys(load_config())
    expected["instance"].discard("reserved_nicknames")
    assert {section: set(table) for section, table in raw.items()} == expected
    assert any(
        line.lstrip("# ").startswith("reserved_nicknames =")
        for line in SAMPLE.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    )


# -- unknown names ----------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS)
def test_unknown_key_is_named(tmp_path: Path, section: str) -> None:
    """An unknown key in any section stops loading, naming section and key."""
    message = error_for(tmp_path, f"[{section}]\nbogus_key = 1\n")
    assert message == f"[{section}] bogus_key: unknown key"


def test_unknown_section_is_named(tmp_path: Path) -> None:
    """An unknown section stops loading, naming the section."""
    assert error_for(tmp_path, "[bogus]\nx = 1\n") == "[bogus]: unknown section"


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    """A key outside any section is refused like an unknown section."""
    assert error_for(tmp_path, 'listen = "tcp:80"\n') == "[listen]: unknown section"


def test_unprintable_key_is_quoted(tmp_path: Path) -> None:
    """A key with a line break in its name is quoted, keeping the message on one line."""
    assert error_for(tmp_path, '[server]\n"a\\nb" = 1\n') == '[server] "a\\nb": unknown key'


def test_attribute_name_is_not_a_key(tmp_path: Path) -> None:
    """[mail] takes "from", not the Python attribute name from_address."""
    assert (
        error_for(tmp_path, '[mail]\nfrom_address = "a@b"\n') == "[mail] from_address: unknown key"
    )


def test_section_must_be_a_table(tmp_path: Path) -> None:
    """A section given as a plain value is refused, naming it."""
    assert error_for(tmp_path, "server = 5\n") == "[server]: expected a table, got 5"


# -- types ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[database]\npool_size = "ten"', '[database] pool_size: expected an integer, got "ten"'),
        ("[database]\npool_size = true", "[database] pool_size: expected an integer, got true"),
        ("[database]\npool_size = 10.0", "[database] pool_size: expected an integer, got 10.0"),
        (
            '[instance]\nregistrations_open = "yes"',
            '[instance] registrations_open: expected a boolean (true or false), got "yes"',
        ),
        (
            "[rate_limits]\nenabled = 1",
            "[rate_limits] enabled: expected a boolean (true or false), got 1",
        ),
        ("[server]\nlisten = 4000", "[server] listen: expected a string, got 4000"),
        ("[database]\ndsn = 5", "[database] dsn: expected a string, got 5"),
        ("[mail]\nfrom = 1", "[mail] from: expected a string, got 1"),
        ("[server]\ndata_dir = 1", "[server] data_dir: expected a string, got 1"),
        ("[emoji]\ndir = false", "[emoji] dir: expected a string, got false"),
        ('[instance]\nname = ["a"]', '[instance] name: expected a string, got ["a"]'),
        ("[captcha]\nprovider = {}", "[captcha] provider: expected a string, got a table"),
        (
            '[instance]\nreserved_nicknames = "admin"',
            '[instance] reserved_nicknames: expected an array of strings, got "admin"',
        ),
        (
            '[instance]\nreserved_nicknames = ["admin", 5]',
            "[instance] reserved_nicknames: item 2: expected a string, got 5",
        ),
        (
            '[proxy]\ntrusted = "127.0.0.1"',
            '[proxy] trusted: expected an array of IP addresses or networks, got "127.0.0.1"',
        ),
        (
            '[proxy]\ntrusted = ["127.0.0.1", 10]',
            "[proxy] trusted: item 2: expected a string, got 10",
        ),
        (
            '[rate_limits]\nregistration = [5, "1800"]',
            '[rate_limits] registration: expected [requests, seconds] (two positive integers), got [5, "1800"]',
        ),
        (
            "[rate_limits]\nfailed_login = [true, 60]",
            "[rate_limits] failed_login: expected [requests, seconds] (two positive integers), got [true, 60]",
        ),
        (
            "[rate_limits]\npassword_reset = 5",
            "[rate_limits] password_reset: expected [requests, seconds] (two positive integers), got 5",
        ),
    ],
)
def test_wrong_type_is_named(tmp_path: Path, text: str, message: str) -> None:
    """A value of the wrong TOML type is refused: a bool is not an int, an int not a string."""
    assert error_for(tmp_path, text + "\n") == message


def test_long_values_are_shortened_in_messages(tmp_path: Path) -> None:
    """An error quotes a long or multi-line value briefly, keeping the message on one line."""
    message = error_for(tmp_path, '[database]\npool_size = """' + "x\n" * 100 + '"""\n')
    assert message.startswith('[database] pool_size: expected an integer, got "x\\nx\\n')
    assert message.endswith("...") and len(message) < 120


# -- impossible values ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[database]\npool_size = 0", "[database] pool_size: must be between 1 and 1000, got 0"),
        (
            "[database]\npool_size = 1001",
            "[database] pool_size: must be between 1 and 1000, got 1001",
        ),
        ("[instance]\nstatus_limit = 0", "[instance] status_limit: must be at least 1, got 0"),
        (
            "[instance]\nuser_bio_length = -5",
            "[instance] user_bio_length: must be at least 1, got -5",
        ),
        (
            "[instance]\nuser_name_length = 0",
            "[instance] user_name_length: must be at least 1, got 0",
        ),
        ("[instance]\nupload_limit = 0", "[instance] upload_limit: must be at least 1, got 0"),
        (
            "[instance]\navatar_upload_limit = 0",
            "[instance] avatar_upload_limit: must be at least 1, got 0",
        ),
        (
            "[instance]\nbanner_upload_limit = 0",
            "[instance] banner_upload_limit: must be at least 1, got 0",
        ),
        (
            "[instance]\nbackground_upload_limit = 0",
            "[instance] background_upload_limit: must be at least 1, got 0",
        ),
        ("[captcha]\nseconds_valid = 0", "[captcha] seconds_valid: must be at least 1, got 0"),
        ("[mail]\nsmtp_port = 0", "[mail] smtp_port: must be between 1 and 65535, got 0"),
        ("[mail]\nsmtp_port = 65536", "[mail] smtp_port: must be between 1 and 65535, got 65536"),
        ('[mail]\nbackend = ""', "[mail] backend: must not be empty"),
        (
            '[mail]\nbackend = "smtp"\nsmtp_host = ""',
            '[mail] smtp_host: must not be empty when backend = "smtp"',
        ),
        ('[media]\nbackend = ""', "[media] backend: must not be empty"),
        ('[captcha]\nprovider = " "', "[captcha] provider: must not be empty"),
        ('[server]\nlisten = ""', "[server] listen: must not be empty"),
        ('[server]\ndata_dir = ""', "[server] data_dir: must not be empty"),
        (
            "[rate_limits]\nregistration = [5]",
            "[rate_limits] registration: expected [requests, seconds] (two positive integers), got [5]",
        ),
        (
            "[rate_limits]\nregistration = [5, 60, 1]",
            "[rate_limits] registration: expected [requests, seconds] (two positive integers), got [5, 60, 1]",
        ),
        (
            "[rate_limits]\nconfirmation_resend = [0, 60]",
            "[rate_limits] confirmation_resend: expected [requests, seconds] (two positive integers), got [0, 60]",
        ),
        (
            "[rate_limits]\nfailed_login = [15, -1]",
            "[rate_limits] failed_login: expected [requests, seconds] (two positive integers), got [15, -1]",
        ),
        (
            '[proxy]\ntrusted = ["10.0.0.0/8", "proxy.local"]',
            '[proxy] trusted: item 2: expected an IP address or network, got "proxy.local"',
        ),
        (
            '[proxy]\ntrusted = ["10.0.0.0/33"]',
            '[proxy] trusted: item 1: expected an IP address or network, got "10.0.0.0/33"',
        ),
        (
            '[captcha]\nkocaptcha_endpoint = "captcha.kotobank.ch"',
            '[captcha] kocaptcha_endpoint: expected an absolute http or https URL, got "captcha.kotobank.ch"',
        ),
        (
            '[captcha]\nkocaptcha_endpoint = "ftp://captcha.kotobank.ch"',
            '[captcha] kocaptcha_endpoint: expected an absolute http or https URL, got "ftp://captcha.kotobank.ch"',
        ),
        ('[instance]\nemail = ""', '[instance] email: expected an e-mail address, got ""'),
        (
            '[instance]\nemail = "admin"',
            '[instance] email: expected an e-mail address, got "admin"',
        ),
        ('[mail]\nfrom = ""', '[mail] from: expected an e-mail address, got ""'),
        (
            '[mail]\nfrom = "no reply@localhost"',
            '[mail] from: expected an e-mail address, got "no reply@localhost"',
        ),
        (
            '[instance]\nemail = "Admin <admin@localhost>"',
            '[instance] email: expected an e-mail address, got "Admin <admin@localhost>"',
        ),
        (
            '[mail]\nfrom = "a@b\\nBcc: c@d"',
            '[mail] from: expected an e-mail address, got "a@b\\nBcc: c@d"',
        ),
    ],
)
def test_impossible_value_is_named(tmp_path: Path, text: str, message: str) -> None:
    """A well-typed value outside what the daemon can use is refused, naming the key."""
    assert error_for(tmp_path, text + "\n") == message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("localhost:4000", "expected an absolute http or https URL"),
        ("/pleroma", "expected an absolute http or https URL"),
        ("ftp://example.com", "expected an absolute http or https URL"),
        ("https://", "expected an absolute http or https URL"),
        ("https://example.com:99999", "expected an http or https URL"),
        ("https://example.com/?x=1", "must not have a query or fragment"),
        ("https://example.com/#top", "must not have a query or fragment"),
    ],
)
def test_base_url_must_be_absolute_http(tmp_path: Path, url: str, problem: str) -> None:
    """[server] base_url is an absolute http(s) URL with a host and no query or fragment."""
    message = error_for(tmp_path, f'[server]\nbase_url = "{url}"\n')
    assert message == f'[server] base_url: {problem}, got "{url}"'


def test_media_base_url_must_be_absolute_http(tmp_path: Path) -> None:
    """A non-empty [media] base_url must be an absolute http(s) URL too."""
    assert (
        error_for(tmp_path, '[media]\nbase_url = "/media"\n')
        == '[media] base_url: expected an absolute http or https URL, got "/media"'
    )


# -- values that are accepted -----------------------------------------------


def test_trailing_slash_is_removed_from_urls(tmp_path: Path) -> None:
    """Trailing slashes are dropped so that paths can be appended to any URL."""
    config = load_text(
        tmp_path,
        '[server]\nbase_url = "https://social.example/pleroma/"\n'
        '[media]\nbase_url = "https://cdn.example/m/"\n'
        '[captcha]\nkocaptcha_endpoint = "http://captcha.example:8080/"\n',
    )
    assert config.server.base_url == "https://social.example/pleroma"
    assert config.media.base_url == "https://cdn.example/m"
    assert config.captcha.kocaptcha_endpoint == "http://captcha.example:8080"


def test_media_base_url_derives_from_server_base_url(tmp_path: Path) -> None:
    """An empty [media] base_url is <server base_url>/media, after its slash is removed."""
    config = load_text(tmp_path, '[server]\nbase_url = "https://social.example/"\n')
    assert config.media.base_url == "https://social.example/media"


def test_values_from_the_file_are_used(tmp_path: Path) -> None:
    """Values in the file replace the defaults, arrays becoming tuples."""
    config = load_text(
        tmp_path,
        '[database]\ndsn = "postgresql:///pleroma"\npool_size = 1000\n'
        '[instance]\nreserved_nicknames = ["admin", "root"]\nstatus_limit = 1\n'
        '[mail]\nbackend = "smtp"\nfrom = "Pleroma <noreply@social.example>"\nsmtp_port = 587\n'
        "[rate_limits]\nenabled = false\nregistration = [1, 1]\n"
        '[proxy]\ntrusted = ["127.0.0.1", "::1", "10.1.2.3/8"]\n',
    )
    assert config.database == DatabaseConfig(dsn="postgresql:///pleroma", pool_size=1000)
    assert config.instance.reserved_nicknames == ("admin", "root")
    assert config.instance.status_limit == 1
    assert (config.mail.backend, config.mail.smtp_port) == ("smtp", 587)
    assert config.mail.from_address == "Pleroma <noreply@social.example>"
    assert config.rate_limits.enabled is False
    assert config.rate_limits.registration == (1, 1)
    assert config.rate_limits.failed_login == (15, 60)
    assert config.proxy.trusted == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.0.0.0/8"),
    )


def test_smtp_password_is_not_in_repr(tmp_path: Path) -> None:
    """Logging the configuration does not leak the SMTP password."""
    config = load_text(tmp_path, '[mail]\nsmtp_password = "hunter2"\n')
    assert config.mail.smtp_password == "hunter2"
    assert "hunter2" not in repr(config)


# -- paths ------------------------------------------------------------------


def test_relative_paths_resolve_against_the_file_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative data_dir and emoji dir are relative to the file's folder, not the working directory."""
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path / "conf",
        '[server]\ndata_dir = "../var/data"\n[emoji]\ndir = "emoji"\n',
    )
    config = load_config(Path("conf") / "pleromad.toml")
    assert config.source == path
    assert config.server.data_dir == tmp_path / "var" / "data"
    assert config.emoji.dir == path.parent / "emoji"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    """Absolute paths in the file are used as they are."""
    data, emoji = tmp_path / "somewhere" / "data", tmp_path / "emoji"
    config = load_text(
        tmp_path / "conf", f'[server]\ndata_dir = "{data}"\n[emoji]\ndir = "{emoji}"\n'
    )
    assert (config.server.data_dir, config.emoji.dir) == (data, emoji)


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A path starting with ~ is under the home directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_text(tmp_path, '[server]\ndata_dir = "~/pleromad"\n')
    assert config.server.data_dir == tmp_path / "home" / "pleromad"


# -- command-line overrides -------------------------------------------------


def test_overrides_win_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--listen, --data-dir and --dsn replace the file's values; a relative --data-dir is under the working directory."""
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path / "conf",
        '[server]\nlisten = "tcp:4000"\ndata_dir = "/srv/pleromad"\n[database]\ndsn = "dbname=a"\n',
    )
    config = load_config(path, listen="tcp:0", data_dir="here", dsn="dbname=b")
    assert config.server.listen == "tcp:0"
    assert config.server.data_dir == tmp_path / "here"
    assert config.database.dsn == "dbname=b"


def test_overrides_apply_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overrides work on the built-in defaults too, and absolute --data-dir is kept."""
    monkeypatch.chdir(tmp_path)
    config = load_config(data_dir=str(tmp_path / "abs"), dsn="")
    assert config.server.data_dir == tmp_path / "abs"
    assert config.database.dsn == ""
    assert config.server.listen == "tcp:4000:interface=127.0.0.1"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"listen": ""}, "--listen: must not be empty"),
        ({"data_dir": ""}, "--data-dir: must not be empty"),
    ],
)
def test_overrides_are_validated(overrides: dict[str, str], message: str) -> None:
    """A bad command-line value is refused, naming the option."""
    with pytest.raises(ConfigError, match=f"^{message}$"):
        load_config(**overrides)


# -- unreadable files -------------------------------------------------------


def test_toml_syntax_error_is_one_line(tmp_path: Path) -> None:
    """A TOML syntax error names the file and tomllib's reason, with line and column."""
    path = write(tmp_path, "[server]\nlisten = \n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 2" in message and "\n" not in message


def test_non_utf8_file_is_one_line(tmp_path: Path) -> None:
    """A file that is not UTF-8 is refused as invalid TOML, on one line."""
    path = tmp_path / "pleromad.toml"
    path.write_bytes(b'[instance]\nname = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: invalid TOML: not UTF-8")
    assert "\n" not in str(info.value)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    """A missing file names the file as given and the reason."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == f"{path}: cannot read: No such file or directory"


def test_folder_instead_of_file_is_one_line(tmp_path: Path) -> None:
    """A folder given as the file is refused with a one-line reason."""
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: cannot read: ")
    assert "\n" not in str(info.value)


# -- immutability -----------------------------------------------------------


def test_config_is_immutable() -> None:
    """Neither the Config nor its sections can be changed after loading."""
    config = load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.source = Path("/elsewhere")  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.server.listen = "tcp:80"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.mail.from_address = "x@y"  # type: ignore[misc]
    assert isinstance(config.instance.reserved_nicknames, tuple)
    assert isinstance(config.proxy.trusted, tuple)
    hash(config)  # every value inside is immutable too
