"""Custom emoji: loading the folder, the two lists, the files, reloading."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.web.client import Agent, HTTPConnectionPool

from pleromad.emoji import BUNDLED, EmojiLoadError, EmojiSet
from pleromad.emoji.loader import load_folder
from pleromad.runtime import Runtime
from pleromad.web.root import build_gateway
from tests import contract
from tests.conftest import Client

BUNDLED_NAMES = ["check", "cross", "frown", "heart", "smile", "star", "surprised", "wink"]
# Enough of a PNG for the loader, which never decodes images.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def write(path: Path, content: bytes | str = PNG) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def table_of(folder: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {e.shortcode: (e.relpath, e.tags) for e in load_folder(folder).entries}


def emoji_client(rt: Runtime, serve: Any, folder: Path | None) -> tuple[Client, EmojiSet]:
    emoji = EmojiSet(folder, rt.config.server.base_url)
    return serve(build_gateway(replace(rt, emoji=emoji))), emoji


async def raw_get(client: Client, path: bytes, method: bytes = b"GET") -> tuple[int, Any, bytes]:
    """A request whose path goes out byte for byte, dots and escapes included."""
    pool = HTTPConnectionPool(reactor, persistent=False)
    url = client.base.encode() + path
    response = await Agent(reactor, pool=pool).request(method, url)
    body = await treq.content(response)
    content_type = response.headers.getRawHeaders(b"content-type", [b""])[0]
    contract.check(method.decode(), url.decode(), response.code, content_type.decode(), body)
    return response.code, response.headers, body


def header(response_headers: Any, name: str) -> str | None:
    values = response_headers.getRawHeaders(name)
    return values[0] if values else None


# -- loading -------------------------------------------------------------


def test_bundled_set_loads_cleanly() -> None:
    """The bundled set is eight PNGs listed by its emoji.txt, tagged Custom, with no warnings."""
    loaded = load_folder(BUNDLED)
    assert loaded.warnings == ()
    assert [e.shortcode for e in loaded.entries] == BUNDLED_NAMES
    for entry in loaded.entries:
        assert entry.relpath == f"{entry.shortcode}.png"
        assert entry.tags == ("Custom",)
        assert entry.file.read_bytes().startswith(b"\x89PNG")


def test_folder_order_and_precedence(tmp_path: Path) -> None:
    """Packs load in name order (emoji.txt, or every image in path order, tagged with
    the pack), then the top emoji.txt; a later shortcode replaces an earlier one."""
    d = tmp_path / "emoji"
    for name in [
        "Firefox.gif",
        "plain.png",
        "override.png",
        "loose.png",
        "blobs/blob.png",
        "blobs/wave.png",
        "blobs/sub/wave.png",
        "blobs/sub/blobcat.gif",
        "blobs/.hidden.png",
        "blobs/.dot/x.png",
        "cats/cat.png",
        "cats/kitty.webp",
        "cats/unlisted.png",
    ]:
        write(d / name)
    write(d / "blobs/notes.txt", "not an emoji")
    write(
        d / "cats/emoji.txt",
        "cat, cat.png\nkitty, /emoji/cats/kitty.webp, Cute\nblobcat, cat.png\n",
    )
    write(
        d / "emoji.txt",
        "\ufeff# the instance's own\n"
        "firefox, /emoji/Firefox.gif, Gif,Fun\r\n"
        "plain, /emoji/plain.png\n"
        "\n"
        "   \n"
        "justone\n"
        "blob, /emoji/override.png, Override\n"
        "bad name!, /emoji/plain.png\n"
        "trailing, plain.png, \n",
    )
    loaded = load_folder(d)
    assert table_of(d) == {
        "blob": ("override.png", ("Override",)),
        "blobcat": ("cats/cat.png", ("cats",)),
        "cat": ("cats/cat.png", ("cats",)),
        "firefox": ("Firefox.gif", ("Gif", "Fun")),
        "kitty": ("cats/kitty.webp", ("Cute",)),
        "plain": ("plain.png", ("Custom",)),
        "trailing": ("plain.png", ("Custom",)),
        "wave": ("blobs/sub/wave.png", ("blobs",)),
    }
    assert [e.shortcode for e in loaded.entries] == sorted(table_of(d))
    assert [e.content_type for e in loaded.entries if e.shortcode in ("firefox", "kitty")] == [
        "image/gif",
        "image/webp",
    ]
    assert loaded.warnings == (
        "emoji.txt:6: expected 'shortcode, path[, tag, ...]'; line skipped",
        "emoji.txt:8: shortcode 'bad name!' is not [A-Za-z0-9_+-]; skipped",
        "loose.png: an image outside any pack that emoji.txt does not list; ignored",
    )


def test_paths_leaving_the_folder_are_skipped(tmp_path: Path) -> None:
    """Lines whose file is outside the folder (.., an absolute path, a link out), missing,
    not an image or hidden are skipped with a warning naming the line; so are packs and
    emoji.txt files that lead out."""
    d = tmp_path / "emoji"
    secret = write(tmp_path / "secret.png")
    write(d / "good.png")
    write(d / "readme.txt", "hello")
    write(d / ".hidden.png")
    os.symlink(secret, d / "link.png")
    os.symlink(d / "good.png", d / "alias.png")  # a link that stays inside is fine
    write(tmp_path / "elsewhere/outside.png")
    os.symlink(tmp_path / "elsewhere", d / "outpack")
    write(tmp_path / "list.txt", "stolen, /emoji/good.png\n")
    write(d / "sneaky/inside.png")
    os.symlink(tmp_path / "list.txt", d / "sneaky/emoji.txt")
    write(
        d / "emoji.txt",
        "\n".join(
            [
                "good, /emoji/good.png",
                "up, ../secret.png",
                "up2, /emoji/../secret.png",
                "passwd, /etc/passwd",
                "abs, " + str(secret),
                "remote, https://example.com/x.png",
                "link, /emoji/link.png",
                "missing, /emoji/missing.png",
                "text, /emoji/readme.txt",
                "hidden, /emoji/.hidden.png",
                "dots, /emoji/./good.png",
                "slashes, /emoji//good.png",
                "back, /emoji/..\\secret.png",
                "alias, /emoji/alias.png",
            ]
        )
        + "\n",
    )
    loaded = load_folder(d)
    assert table_of(d) == {"alias": ("alias.png", ("Custom",)), "good": ("good.png", ("Custom",))}
    assert all(entry.file.is_relative_to(d) for entry in loaded.entries)
    assert loaded.warnings == (
        "outpack/: the pack leads outside the emoji folder; pack skipped",
        "sneaky/emoji.txt: leads outside the emoji folder; file skipped",
        "emoji.txt:2: path '../secret.png' has a '..' segment; skipped",
        "emoji.txt:3: path '../secret.png' has a '..' segment; skipped",
        "emoji.txt:4: path '/etc/passwd' is not under /emoji/; line skipped",
        f"emoji.txt:5: path '{secret}' is not under /emoji/; line skipped",
        "emoji.txt:6: path 'https://example.com/x.png' is not under /emoji/; line skipped",
        "emoji.txt:7: 'link.png' leads outside the emoji folder; skipped",
        "emoji.txt:8: no file 'missing.png'; skipped",
        "emoji.txt:9: 'readme.txt' is not a .png, .gif or .webp file; skipped",
        "emoji.txt:10: path '.hidden.png' names a hidden file or folder; skipped",
        "emoji.txt:11: path './good.png' has an empty or '.' segment; skipped",
        "emoji.txt:12: path '/good.png' has an empty or '.' segment; skipped",
        "emoji.txt:13: path '..\\\\secret.png' has a backslash or control character; skipped",
    )


def test_unreadable_folder_fails_the_load(tmp_path: Path) -> None:
    """A missing folder, or an emoji.txt that is not UTF-8, fails the whole load."""
    with pytest.raises(EmojiLoadError, match="cannot read emoji folder"):
        load_folder(tmp_path / "nowhere")
    write(tmp_path / "emoji.txt", b"caf\xe9, /emoji/x.png\n")
    with pytest.raises(EmojiLoadError, match="is not UTF-8"):
        load_folder(tmp_path)


# -- the two lists -------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_bundled_set_in_both_lists(rt: Runtime, client: Client) -> None:
    """A fresh server lists the bundled emoji: /api/pleroma/emoji as shortcode ->
    relative path and tags, /api/v1/custom_emojis as Mastodon's sorted array with
    absolute URLs; both JSON with an ETag and a five-minute public cache."""
    base = rt.config.server.base_url
    response = await client.get("/api/pleroma/emoji")
    assert response.code == 200
    assert header(response.headers, "content-type") == "application/json; charset=utf-8"
    assert header(response.headers, "cache-control") == "public, max-age=300"
    assert header(response.headers, "etag").startswith('"')
    body = await response.text("utf-8")
    assert json.loads(body) == {
        name: {"image_url": f"/emoji/{name}.png", "tags": ["Custom"]} for name in BUNDLED_NAMES
    }
    assert list(json.loads(body)) == BUNDLED_NAMES  # keys in shortcode order

    response = await client.get("/api/v1/custom_emojis")
    assert response.code == 200
    assert header(response.headers, "content-type") == "application/json; charset=utf-8"
    assert header(response.headers, "cache-control") == "public, max-age=300"
    assert await response.json() == [
        {
            "shortcode": name,
            "url": f"{base}/emoji/{name}.png",
            "static_url": f"{base}/emoji/{name}.png",
            "visible_in_picker": True,
            "tags": ["Custom"],
            "category": "",
        }
        for name in BUNDLED_NAMES
    ]
    # The reference's suffix and a trailing slash route the same.
    for path in ["/api/pleroma/emoji.json", "/api/pleroma/emoji/", "/api/v1/custom_emojis/"]:
        assert (await client.get(path)).code == 200


@pytest_twisted.ensureDeferred
async def test_categories_and_tags_of_a_custom_folder(
    rt: Runtime, serve: Any, tmp_path: Path
) -> None:
    """custom_emojis' category is the tags without Custom, joined with ","; escapes in
    file names are kept in the URLs."""
    write(tmp_path / "a.png")
    write(tmp_path / "my pack/b c.gif")
    write(tmp_path / "emoji.txt", "a, /emoji/a.png, Custom, Gif, Fun\n")
    client, _ = emoji_client(rt, serve, tmp_path)
    base = rt.config.server.base_url
    assert await (await client.get("/api/pleroma/emoji")).json() == {
        "a": {"image_url": "/emoji/a.png", "tags": ["Custom", "Gif", "Fun"]}
    }
    assert await (await client.get("/api/v1/custom_emojis")).json() == [
        {
            "shortcode": "a",
            "url": f"{base}/emoji/a.png",
            "static_url": f"{base}/emoji/a.png",
            "visible_in_picker": True,
            "tags": ["Custom", "Gif", "Fun"],
            "category": "Gif,Fun",
        },
    ]
    write(tmp_path / "emoji.txt", "a, /emoji/a.png, Custom, Gif, Fun\nbc, /emoji/my pack/b c.gif\n")
    client, _ = emoji_client(rt, serve, tmp_path)
    listed = await (await client.get("/api/pleroma/emoji")).json()
    assert listed["bc"] == {"image_url": "/emoji/my%20pack/b%20c.gif", "tags": ["Custom"]}
    response = await client.get("/emoji/my%20pack/b%20c.gif")
    assert response.code == 200
    assert header(response.headers, "content-type") == "image/gif"


@pytest_twisted.ensureDeferred
async def test_matching_etag_gets_304(client: Client) -> None:
    """A request with the list's ETag in If-None-Match gets 304 and no body; another tag 200."""
    for path in ["/api/pleroma/emoji", "/api/v1/custom_emojis"]:
        first = await client.get(path)
        etag = header(first.headers, "etag")
        for given in [etag, f"W/{etag}", f'"other", {etag}', "*"]:
            again = await client.get(path, headers={"If-None-Match": given})
            assert again.code == 304, given
            assert await again.content() == b""
            assert header(again.headers, "etag") == etag
        other = await client.get(path, headers={"If-None-Match": '"other"'})
        assert other.code == 200
        assert await other.content() == await first.content()


# -- the files -----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_emoji_files_are_served_with_long_cache(client: Client) -> None:
    """/emoji/<file> serves the file with its image type, a one-day public cache and
    nosniff; HEAD answers the same headers without the body."""
    smile = (BUNDLED / "smile.png").read_bytes()
    response = await client.get("/emoji/smile.png")
    assert response.code == 200
    assert await response.content() == smile
    assert header(response.headers, "content-type") == "image/png"
    assert header(response.headers, "cache-control") == "public, max-age=86400"
    assert header(response.headers, "x-content-type-options") == "nosniff"
    code, headers, body = await raw_get(client, b"/emoji/smile.png", b"HEAD")
    assert (code, body) == (200, b"")
    assert header(headers, "content-type") == "image/png"
    assert header(headers, "content-length") == str(len(smile))


@pytest_twisted.ensureDeferred
async def test_nothing_outside_the_table_is_served(rt: Runtime, serve: Any, tmp_path: Path) -> None:
    """Only files of listed emoji are served: paths climbing out (plain or escaped),
    links out, emoji.txt, non-images and unlisted files all get the JSON 404."""
    d = tmp_path / "emoji"
    secret = write(tmp_path / "secret.png", b"SECRET")
    write(d / "good.png")
    write(d / "unlisted.png")
    write(d / "readme.txt", "hello")
    os.symlink(secret, d / "link.png")
    write(d / "emoji.txt", "good, /emoji/good.png\nlink, /emoji/link.png\nup, ../secret.png\n")
    client, _ = emoji_client(rt, serve, d)
    assert (await raw_get(client, b"/emoji/good.png"))[0] == 200
    for path in [
        b"/emoji/../secret.png",
        b"/emoji/%2e%2e/secret.png",
        b"/emoji/%2E%2E%2Fsecret.png",
        b"/emoji/..%2fsecret.png",
        b"/emoji/good.png/../../secret.png",
        b"/emoji/link.png",
        b"/emoji//etc/passwd",
        b"/emoji/%2fetc%2fpasswd",
        b"/emoji/emoji.txt",
        b"/emoji/readme.txt",
        b"/emoji/unlisted.png",
        b"/emoji/",
        b"/emoji",
        b"/emoji/..",
        b"/emoji/%00.png",
        b"/emoji/good.png%00",
    ]:
        code, _headers, body = await raw_get(client, path)
        assert code == 404, path
        assert json.loads(body) == {"error": "Not found"}, path
        assert b"SECRET" not in body


@pytest_twisted.ensureDeferred
async def test_file_changed_after_load_is_not_followed_out(
    rt: Runtime, serve: Any, tmp_path: Path
) -> None:
    """A listed file that is later removed, or replaced by a link out of the folder,
    gets the 404 rather than what the link points at."""
    d = tmp_path / "emoji"
    secret = write(tmp_path / "secret.png", b"SECRET")
    write(d / "a.png")
    write(d / "b.png")
    write(d / "emoji.txt", "a, /emoji/a.png\nb, /emoji/b.png\n")
    client, _ = emoji_client(rt, serve, d)
    assert (await client.get("/emoji/a.png")).code == 200
    (d / "a.png").unlink()
    (d / "b.png").unlink()
    os.symlink(secret, d / "b.png")
    for path in ["/emoji/a.png", "/emoji/b.png"]:
        response = await client.get(path)
        assert response.code == 404
        assert await response.json() == {"error": "Not found"}


# -- reloading -----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_reload_without_restart(rt: Runtime, serve: Any, tmp_path: Path) -> None:
    """reload() picks up a new emoji while serving; a reload that cannot read the folder
    returns False and keeps the table in use."""
    write(tmp_path / "a.png")
    write(tmp_path / "emoji.txt", "a, /emoji/a.png\n")
    client, emoji = emoji_client(rt, serve, tmp_path)
    await emoji.load()
    assert list(await (await client.get("/api/pleroma/emoji")).json()) == ["a"]
    before = header((await client.get("/api/v1/custom_emojis")).headers, "etag")

    write(tmp_path / "new/b.gif")
    assert await emoji.reload() is True
    assert list(await (await client.get("/api/pleroma/emoji")).json()) == ["a", "b"]
    assert [e["shortcode"] for e in await (await client.get("/api/v1/custom_emojis")).json()] == [
        "a",
        "b",
    ]
    response = await client.get("/api/v1/custom_emojis", headers={"If-None-Match": before})
    assert response.code == 200  # the new list has a new ETag
    assert (await client.get("/emoji/new/b.gif")).code == 200

    write(tmp_path / "emoji.txt", b"\xff\xfe broken\n")
    assert await emoji.reload() is False
    assert list(await (await client.get("/api/pleroma/emoji")).json()) == ["a", "b"]
    assert (await client.get("/emoji/a.png")).code == 200


@pytest_twisted.ensureDeferred
async def test_a_folder_that_cannot_be_read(rt: Runtime, serve: Any, tmp_path: Path) -> None:
    """load() raises for a folder that does not exist, and the lists are then empty."""
    client, emoji = emoji_client(rt, serve, tmp_path / "nowhere")
    with pytest.raises(EmojiLoadError):
        await emoji.load()
    assert await (await client.get("/api/pleroma/emoji")).json() == {}
    assert await (await client.get("/api/v1/custom_emojis")).json() == []
