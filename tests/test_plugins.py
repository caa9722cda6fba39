"""Choosing a plugin by name, with real plugin files on the plugin path."""

from __future__ import annotations

from pathlib import Path

import pytest

import twisted.plugins
from pleromad.mail.interface import IMailerFactory
from pleromad.plugins import DuplicatePlugin, UnknownPlugin, choose


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A third party's twisted/plugins folder, installed for this test."""
    folder = tmp_path / "site" / "twisted" / "plugins"
    folder.mkdir(parents=True)
    monkeypatch.setattr(twisted.plugins, "__path__", [*twisted.plugins.__path__, str(folder)])
    return folder


def write_plugin(folder: Path, module: str, name: str) -> None:
    (folder / f"{module}.py").write_text(
        "from pleromad.mail.backends import NullMailer\n"
        "from pleromad.mail.interface import IMailerFactory\n"
        "from pleromad.plugins import NamedFactory\n"
        f"plugin = NamedFactory(IMailerFactory, {name!r}, NullMailer.from_config)\n"
    )


def test_a_third_party_plugin_is_chosen_by_name(plugin_dir: Path) -> None:
    """A plugin another package installs is found and selectable by its name."""
    write_plugin(plugin_dir, "pigeon_mail", "carrier-pigeon")
    assert choose(IMailerFactory, "carrier-pigeon", setting="[mail] backend", kind="mailer")


def test_an_unknown_name_lists_what_is_installed() -> None:
    """An unknown name is one line naming it and the installed alternatives."""
    with pytest.raises(UnknownPlugin) as raised:
        choose(IMailerFactory, "carrier-pigeon", setting="[mail] backend", kind="mailer")
    text = str(raised.value)
    assert text.startswith('[mail] backend: no mailer plugin named "carrier-pigeon"')
    assert '"smtp"' in text and "\n" not in text


def test_a_name_two_plugins_claim_is_refused(plugin_dir: Path) -> None:
    """A third party reusing a shipped name never silently replaces it."""
    write_plugin(plugin_dir, "impostor", "smtp")
    with pytest.raises(DuplicatePlugin) as raised:
        choose(IMailerFactory, "smtp", setting="[mail] backend", kind="mailer")
    assert '"smtp"' in str(raised.value) and "\n" not in str(raised.value)
    assert choose(IMailerFactory, "maildir", setting="[mail] backend", kind="mailer")
