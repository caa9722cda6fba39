"""Media: the uploader plugin, attachments (/api/v1/media, /api/v2/media),
serving stored files, profile pictures, the mascot, and what is refused."""

from __future__ import annotations

import base64
import os
import struct
import zlib
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_twisted
from PIL import Image
from zope.interface.verify import verifyObject

from pleromad.config import Config
from pleromad.domain import lifecycle, media
from pleromad.errors import BadRequest
from pleromad.media.interface import ILocalFiles, IUploader, IUploaderFactory
from pleromad.media.local import LocalUploader
from pleromad.media.plugins import uploader_for
from pleromad.model import User
from pleromad.plugins import UnknownPlugin, choose
from pleromad.runtime import Runtime
from pleromad.web.root import build_gateway
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import answer, bearer, make_user

MEDIA_V1 = "/api/v1/media"
MEDIA_V2 = "/api/v2/media"
PLEROMA = "/api/v1/pleroma/accounts"
MASCOT = "/api/v1/pleroma/mascot"
ATTACHMENT_KEYS = {
    "id", "url", "remote_url", "preview_url", "text_url", "type", "description", "blurhash",
    "pleroma",
}  # fmt: skip
SANDBOX = "sandbox; default-src 'none'"
NOT_AN_IMAGE = (415, {"error": "The file must be a PNG, JPEG, GIF or WebP image"})
SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)
TEXT = b"just some text, not an image at all\n" * 3
# Each picture endpoint with its parameter (DECISIONS 18).
PICTURE_ENDPOINTS = (
    ("update_avatar", "img"),
    ("update_banner", "banner"),
    ("update_background", "img"),
)
GPS_IFD = 0x8825
ORIENTATION = 0x0112


# -- images made in memory ----------------------------------------------------------


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), **options: Any) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (30, 140, 200)).save(out, fmt, **options)
    return out.getvalue()


def gps_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    return exif.tobytes()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    png = image_bytes("PNG", (1, 1))
    body = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:8] + struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body)) + png[33:]


def data_url(data: bytes, declared: str = "image/png") -> str:
    return f"data:{declared};base64,{base64.b64encode(data).decode('ascii')}"


def decoded(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    image.load()
    return image


# -- helpers ---------------------------------------------------------------------


def uploads(rt: Runtime) -> Path:
    return rt.config.server.data_dir / "uploads"


def stored_files(rt: Runtime) -> list[Path]:
    root = uploads(rt)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def media_rows(rt: Runtime) -> int:
    return query(rt.db.dsn, "SELECT count(*) FROM media")[0][0]


def assert_nothing_stored(rt: Runtime) -> None:
    assert media_rows(rt) == 0
    assert stored_files(rt) == []


def path_of(url: str) -> str:
    return urlsplit(url).path


# Each request helper answers (status, JSON body).


async def upload(
    client: Client,
    headers: dict[str, str],
    data: bytes,
    filename: str = "pic.png",
    declared: str = "image/png",
    *,
    path: str = MEDIA_V1,
    fields: dict[str, str] | None = None,
) -> tuple[int, Any]:
    return await answer(
        await client.post(
            path, headers=headers, data=fields or {}, files={"file": (filename, declared, data)}
        )
    )


async def patch_file(
    client: Client,
    path: str,
    headers: dict[str, str],
    name: str,
    data: bytes,
    filename: str = "pic.png",
    declared: str = "image/png",
) -> tuple[int, Any]:
    return await answer(
        await client.request(
            "PATCH", path, headers=headers, files={name: (filename, declared, data)}
        )
    )


async def patch_form(
    client: Client, path: str, headers: dict[str, str], **fields: str
) -> tuple[int, Any]:
    return await answer(await client.request("PATCH", path, headers=headers, data=fields))


async def put_mascot(
    client: Client,
    headers: dict[str, str],
    data: bytes,
    filename: str = "m.png",
    declared: str = "image/png",
    *,
    field: str = "file",
) -> tuple[int, Any]:
    return await answer(
        await client.put(MASCOT, headers=headers, files={field: (filename, declared, data)})
    )


async def describe(
    client: Client, headers: dict[str, str], media_id: str, description: str
) -> tuple[int, Any]:
    return await answer(
        await client.put(
            f"{MEDIA_V1}/{media_id}", headers=headers, data={"description": description}
        )
    )


async def fetch(client: Client, url: str) -> tuple[Any, bytes]:
    response = await client.get(path_of(url))
    return response, await response.content()


async def verify_credentials(client: Client, headers: dict[str, str]) -> Any:
    response = await client.get("/api/v1/accounts/verify_credentials", headers=headers)
    assert response.code == 200
    return await response.json()


def header(response: Any, name: str) -> str | None:
    values = response.headers.getRawHeaders(name)
    return values[0] if values else None


def with_instance(rt: Runtime, serve: Any, **changes: Any) -> tuple[Runtime, Client]:
    """The daemon under other [instance] limits, with the usual body limit."""
    config = replace(rt.config, instance=replace(rt.config.instance, **changes))
    new_rt = replace(rt, config=config)
    return new_rt, serve(build_gateway(new_rt), 16_000_000)


async def someone(rt: Runtime, nickname: str = "alice") -> tuple[User, dict[str, str]]:
    user = await make_user(rt, nickname)
    return user, await bearer(rt, user)


# -- the uploader plugin ------------------------------------------------------------


def test_local_uploader_is_the_default_plugin(rt: Runtime) -> None:
    """``[media] backend = "local"`` (the default) builds the local uploader,
    which provides IUploader and serves its own files (ILocalFiles)."""
    assert isinstance(rt.uploader, LocalUploader)
    assert verifyObject(IUploader, rt.uploader)
    assert verifyObject(ILocalFiles, rt.uploader)
    path = "x" * 22 + "/a.png"
    assert rt.uploader.url(path) == f"{rt.config.server.base_url}/media/{path}"
    assert choose(IUploaderFactory, "local", setting="[media] backend", kind="uploader")


def test_an_unknown_backend_is_one_line_naming_the_installed_ones(config: Config) -> None:
    """A backend no plugin provides stops the start with one line."""
    bad = replace(config, media=replace(config.media, backend="s3-someday"))
    with pytest.raises(UnknownPlugin) as raised:
        uploader_for(bad, None)
    text = str(raised.value)
    assert text.startswith('[media] backend: no uploader plugin named "s3-someday"')
    assert '"local"' in text and "\n" not in text


def test_media_base_url_is_where_urls_point(config: Config) -> None:
    """``[media] base_url`` (e.g. a CDN) prefixes every stored file's URL."""
    cdn = replace(config, media=replace(config.media, base_url="https://cdn.example/files"))
    uploader = uploader_for(cdn, None)
    assert uploader.url("t" * 22 + "/a.png") == "https://cdn.example/files/" + "t" * 22 + "/a.png"


# -- attachments --------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_upload_answers_an_attachment_and_serves_the_file(
    rt: Runtime, client: Client
) -> None:
    """POST /api/v1/media stores a PNG and answers the Attachment: the media
    id, one URL under <base_url>/media for all four URL keys, type image,
    pleroma.mime_type, and the file name as description.  The file is served
    as an image with nosniff, a sandboxing CSP and long cache headers."""
    user, headers = await someone(rt)
    png = image_bytes()
    code, body = await upload(client, headers, png, "holiday.png")
    assert code == 200, body
    assert set(body) == ATTACHMENT_KEYS
    url = body["url"]
    assert url.startswith(f"{rt.config.server.base_url}/media/") and url.endswith(".png")
    assert body["remote_url"] == body["preview_url"] == body["text_url"] == url
    assert body["type"] == "image"
    assert body["pleroma"] == {"mime_type": "image/png"}
    assert body["description"] == "holiday.png"
    rows = query(rt.db.dsn, "SELECT id::text, user_id, purpose, mime_type, size FROM media")
    assert rows == [(body["id"], user.id, "attachment", "image/png", len(png))]

    response, served = await fetch(client, url)
    assert response.code == 200
    assert served == png
    assert header(response, "content-type") == "image/png"
    assert header(response, "x-content-type-options") == "nosniff"
    assert header(response, "content-security-policy") == SANDBOX
    assert header(response, "content-disposition") is None
    assert "max-age=" in (header(response, "cache-control") or "")
    head = await client.head(path_of(url))
    assert head.code == 200 and header(head, "content-type") == "image/png"


@pytest_twisted.ensureDeferred
async def test_v2_upload_takes_a_description(rt: Runtime, client: Client) -> None:
    """POST /api/v2/media works as v1 and answers 200 once the file is ready;
    a description given replaces the file name."""
    _, headers = await someone(rt)
    code, body = await upload(
        client,
        headers,
        image_bytes("GIF"),
        "a.gif",
        "image/gif",
        path=MEDIA_V2,
        fields={"description": "a blue square"},
    )
    assert code == 200, body
    assert body["description"] == "a blue square"
    assert body["pleroma"] == {"mime_type": "image/gif"} and body["type"] == "image"


@pytest_twisted.ensureDeferred
async def test_upload_needs_a_file_and_credentials(rt: Runtime, client: Client) -> None:
    """No file: 400 Missing field: file; a text value for it: 400; no token:
    403.  None of them stores anything."""
    _, headers = await someone(rt)
    assert await answer(await client.post(MEDIA_V1, headers=headers, data={"x": "1"})) == (
        400,
        {"error": "Missing field: file"},
    )
    code, _ = await answer(await client.post(MEDIA_V1, headers=headers, data={"file": "abc"}))
    assert code == 400
    code, _ = await upload(client, {}, image_bytes())
    assert code == 403
    assert_nothing_stored(rt)


@pytest_twisted.ensureDeferred
async def test_type_comes_from_the_bytes_not_the_name(rt: Runtime, client: Client) -> None:
    """A PNG called notes.txt and declared text/plain is a PNG: stored and
    served as image/png."""
    _, headers = await someone(rt)
    png = image_bytes()
    code, body = await upload(client, headers, png, "notes.txt", "text/plain")
    assert code == 200, body
    assert body["type"] == "image" and body["pleroma"] == {"mime_type": "image/png"}
    assert body["url"].endswith(".png")
    response, served = await fetch(client, body["url"])
    assert header(response, "content-type") == "image/png" and served == png


@pytest_twisted.ensureDeferred
async def test_svg_and_text_are_only_ever_downloads(rt: Runtime, client: Client) -> None:
    """An SVG carrying a script, declared image/svg+xml, and a text file
    declared image/png are kept as opaque files (type unknown): served as
    application/octet-stream attachments under nosniff and a sandboxing CSP,
    never as images and never under an image extension."""
    _, headers = await someone(rt)
    for data, name, declared in (
        (SVG_WITH_SCRIPT, "cat.svg", "image/svg+xml"),
        (TEXT, "fake.png", "image/png"),
    ):
        code, body = await upload(client, headers, data, name, declared)
        assert code == 200, body
        assert body["type"] == "unknown"
        assert body["pleroma"] == {"mime_type": "application/octet-stream"}
        assert not body["url"].endswith(".png")
        response, served = await fetch(client, body["url"])
        assert response.code == 200 and served == data
        assert header(response, "content-type") == "application/octet-stream"
        assert (header(response, "content-disposition") or "").startswith("attachment")
        assert header(response, "content-security-policy") == SANDBOX
        assert header(response, "x-content-type-options") == "nosniff"


@pytest_twisted.ensureDeferred
async def test_exif_and_gps_are_stripped_from_stored_jpegs(rt: Runtime, client: Client) -> None:
    """A JPEG with GPS in its EXIF is stored without any EXIF; one whose
    EXIF says "rotate" is stored already rotated, without the EXIF."""
    _, headers = await someone(rt)
    plain = image_bytes("JPEG", (40, 30), exif=gps_exif())
    assert Image.open(BytesIO(plain)).getexif().get_ifd(GPS_IFD)  # the test's premise
    rotated = image_bytes("JPEG", (40, 30), exif=gps_exif(orientation=6))
    for data, size in ((plain, (40, 30)), (rotated, (30, 40))):
        code, body = await upload(client, headers, data, "p.jpg", "image/jpeg")
        assert code == 200, body
        assert body["pleroma"] == {"mime_type": "image/jpeg"}
        _, served = await fetch(client, body["url"])
        image = decoded(served)
        assert image.format == "JPEG" and image.size == size
        assert not image.getexif().get_ifd(GPS_IFD)
        assert dict(image.getexif()) == {}
        assert b"Exif" not in served


@pytest_twisted.ensureDeferred
async def test_decompression_bombs_are_refused(rt: Runtime, client: Client) -> None:
    """A small PNG declaring billions of pixels, or just past the 50 MP
    limit, is a 422 wherever it is sent, and nothing is stored."""
    _, headers = await someone(rt)
    for bomb in (png_declaring(100_000, 100_000), png_declaring(8_000, 7_000)):
        code, body = await upload(client, headers, bomb)
        assert code == 422 and "pixels" in body["error"], body
        code, _ = await patch_file(client, f"{PLEROMA}/update_avatar", headers, "img", bomb)
        assert code == 422
        code, _ = await put_mascot(client, headers, bomb)
        assert code == 422
    assert_nothing_stored(rt)


@pytest_twisted.ensureDeferred
async def test_a_broken_image_is_refused(rt: Runtime, client: Client) -> None:
    """A PNG cut short in its pixel data starts like an image but does not
    decode: 422 for an attachment, nothing stored."""
    _, headers = await someone(rt)
    png = image_bytes("PNG", (300, 300), compress_level=0)
    code, body = await upload(client, headers, png[: len(png) // 2])
    assert (code, body) == (422, {"error": "The image could not be decoded"})
    assert_nothing_stored(rt)


@pytest_twisted.ensureDeferred
async def test_oversize_pictures_are_413_file_too_large(rt: Runtime, serve: Any) -> None:
    """Over its limit, an avatar, banner or background, as a file or a data
    URL, is 413 {"error": "file_too_large"}; nothing is stored."""
    png = image_bytes("PNG", (64, 64))
    small = len(png) - 1
    limited_rt, client = with_instance(
        rt,
        serve,
        avatar_upload_limit=small,
        banner_upload_limit=small,
        background_upload_limit=small,
    )
    _, headers = await someone(limited_rt)
    too_large = (413, {"error": "file_too_large"})
    for endpoint, name in PICTURE_ENDPOINTS:
        path = f"{PLEROMA}/{endpoint}"
        assert await patch_file(client, path, headers, name, png) == too_large
        assert await patch_form(client, path, headers, **{name: data_url(png)}) == too_large
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=headers,
        files={"header": ("h.png", "image/png", png)},
    )
    assert await answer(response) == too_large
    assert_nothing_stored(limited_rt)


@pytest_twisted.ensureDeferred
async def test_oversize_attachments_and_mascots_are_413(rt: Runtime, serve: Any) -> None:
    """An attachment or mascot over ``upload_limit`` is a 413 (the body
    limit, also ``upload_limit``, may answer first), file_too_large from the
    upload rules themselves; a file of exactly the limit passes."""
    png = image_bytes("PNG", (64, 64))
    limited_rt, client = with_instance(rt, serve, upload_limit=len(png) - 1)
    user, headers = await someone(limited_rt)
    assert (await upload(client, headers, png))[0] == 413
    assert (await put_mascot(client, headers, png))[0] == 413
    with pytest.raises(media.FileTooLarge) as raised:
        await media.upload_media(limited_rt, user, media.Incoming(png, "a.png"), None)
    assert raised.value.status == 413 and raised.value.body() == {"error": "file_too_large"}
    with pytest.raises(media.FileTooLarge):
        await media.set_mascot(limited_rt, user, media.Incoming(png, "a.png"))
    assert_nothing_stored(limited_rt)

    exact = replace(rt.config.instance, upload_limit=len(png))
    exact_rt = replace(limited_rt, config=replace(rt.config, instance=exact))
    assert await media.upload_media(exact_rt, user, media.Incoming(png, "a.png"), None)


@pytest_twisted.ensureDeferred
async def test_descriptions_only_by_the_owner(rt: Runtime, client: Client) -> None:
    """PUT /api/v1/media/:id sets the owner's description; anyone else, an
    unknown or malformed id: 404 Record not found, and nothing changes."""
    _, alice = await someone(rt, "alice")
    _, bob = await someone(rt, "bob")
    _, body = await upload(client, alice, image_bytes(), "a.png")
    not_found = (404, {"error": "Record not found"})
    assert await describe(client, bob, body["id"], "mine") == not_found
    assert await answer(await client.get(f"{MEDIA_V1}/{body['id']}", headers=bob)) == not_found
    for other in ("1", "abc", "99999999999999999999999"):
        assert await describe(client, alice, other, "x") == not_found
    assert query(rt.db.dsn, "SELECT description FROM media") == [("a.png",)]

    code, updated = await describe(client, alice, body["id"], "a cat")
    assert code == 200 and updated == {**body, "description": "a cat"}
    shown = await answer(await client.get(f"{MEDIA_V1}/{body['id']}", headers=alice))
    assert shown == (200, updated)


# -- serving ------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_media_paths_cannot_leave_the_uploads_folder(rt: Runtime, client: Client) -> None:
    """Dot segments, encoded slashes, absolute paths and links pointing out
    of the uploads folder all answer the JSON 404, never a file."""
    _, headers = await someone(rt)
    _, body = await upload(client, headers, image_bytes())
    token = path_of(body["url"]).split("/")[2]
    data_dir = rt.config.server.data_dir
    (data_dir / "secret.txt").write_text("top secret")
    link_folder = uploads(rt) / ("L" * 22)
    link_folder.mkdir()
    os.symlink(data_dir / "secret.txt", link_folder / "secret.txt")
    for path in (
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/..%2fsecret.txt",
        f"/media/{token}/..%2f..%2fsecret.txt",
        f"/media/{token}/%2e%2e/%2e%2e/secret.txt",
        "/media/%2fetc%2fpasswd",
        "//media//etc/passwd",
        f"/media/{'L' * 22}/secret.txt",
        f"/media/{token}",
        f"/media/{token}/missing.png",
        "/media/",
    ):
        response = await client.get(path)
        assert response.code == 404, path
        assert await response.json() == {"error": "Not found"}, path


@pytest_twisted.ensureDeferred
async def test_bundled_images_are_served(rt: Runtime, client: Client) -> None:
    """The default avatar, banner and mascot are PNGs at /images/..."""
    for name in ("avi.png", "banner.png", "mascot.png"):
        response = await client.get(f"/images/{name}")
        assert response.code == 200
        assert header(response, "content-type") == "image/png"
        assert decoded(await response.content()).format == "PNG"
    assert (await client.get("/images/unknown.png")).code == 404


# -- profile pictures ------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_update_avatar_from_a_data_url_shows_on_the_account(
    rt: Runtime, client: Client
) -> None:
    """update_avatar takes ``img`` as a base64 data URL (whatever type it
    declares), answers {"url"}, and the account shows it as avatar and
    avatar_static; "" clears it back to the default and removes the file."""
    user, headers = await someone(rt)
    base = rt.config.server.base_url
    png = image_bytes()
    avatar = f"{PLEROMA}/update_avatar"
    code, body = await patch_form(client, avatar, headers, img=data_url(png, "image/jpeg"))
    assert code == 200, body
    url = body["url"]
    assert url.startswith(f"{base}/media/") and url.endswith(".png")
    _, served = await fetch(client, url)
    assert served == png
    me = await verify_credentials(client, headers)
    assert me["avatar"] == me["avatar_static"] == url
    _, seen = await answer(await client.get(f"/api/v1/accounts/{user.id}"))
    assert seen["avatar"] == url
    assert media_rows(rt) == 1 and len(stored_files(rt)) == 1

    assert await patch_form(client, avatar, headers, img="") == (200, {"url": None})
    me = await verify_credentials(client, headers)
    assert me["avatar"] == f"{base}/images/avi.png"
    assert_nothing_stored(rt)


@pytest_twisted.ensureDeferred
async def test_banner_and_background_take_files_and_replace_old_ones(
    rt: Runtime, client: Client
) -> None:
    """update_banner takes ``banner`` and update_background ``img`` as
    multipart files; the banner shows as header, the background as
    pleroma.background_image; a new picture replaces the old, file and all."""
    _, headers = await someone(rt)
    banner = f"{PLEROMA}/update_banner"
    jpeg, webp = image_bytes("JPEG"), image_bytes("WEBP")
    code, first = await patch_file(client, banner, headers, "banner", jpeg, "b.jpg", "image/jpeg")
    assert code == 200, first
    code, second = await patch_file(client, banner, headers, "banner", webp, "b.webp", "image/webp")
    assert code == 200 and second["url"].endswith(".webp")
    assert (await client.get(path_of(first["url"]))).code == 404
    code, background = await patch_file(
        client, f"{PLEROMA}/update_background", headers, "img", image_bytes()
    )
    assert code == 200
    me = await verify_credentials(client, headers)
    assert me["header"] == me["header_static"] == second["url"]
    assert me["pleroma"]["background_image"] == background["url"]
    assert media_rows(rt) == 2 and len(stored_files(rt)) == 2


@pytest_twisted.ensureDeferred
async def test_profile_pictures_must_be_images(rt: Runtime, client: Client) -> None:
    """An SVG with a script, a text file declared image/png (as a file or a
    data URL) are 415 for every picture; a malformed data URL or a plain URL
    is 400; a missing parameter 400.  Nothing is stored, nothing changes."""
    _, headers = await someone(rt)
    svg_url = data_url(SVG_WITH_SCRIPT, "image/svg+xml")
    for endpoint, name in PICTURE_ENDPOINTS:
        path = f"{PLEROMA}/{endpoint}"
        code_body = await patch_file(
            client, path, headers, name, SVG_WITH_SCRIPT, "x.svg", "image/svg+xml"
        )
        assert code_body == NOT_AN_IMAGE
        assert await patch_file(client, path, headers, name, TEXT) == NOT_AN_IMAGE
        assert await patch_form(client, path, headers, **{name: data_url(TEXT)}) == NOT_AN_IMAGE
        assert await patch_form(client, path, headers, **{name: svg_url}) == NOT_AN_IMAGE
        for bad in ("data:image/png;base64,***", "https://example.org/a.png", "data:,abc"):
            code, _ = await patch_form(client, path, headers, **{name: bad})
            assert code == 400, bad
        missing = (400, {"error": f"Missing field: {name}"})
        assert await patch_form(client, path, headers) == missing
    assert_nothing_stored(rt)
    pictures = query(rt.db.dsn, "SELECT avatar, banner, background FROM users")
    assert pictures == [(None, None, None)]


@pytest_twisted.ensureDeferred
async def test_long_data_urls_decode_as_a_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A data URL longer than the decoder's chunk (and than the size decoded
    on the reactor thread) gives the same bytes as decoding it at once,
    line breaks anywhere; padding before the end is malformed even where
    a chunk ends just after it."""
    monkeypatch.setattr(media, "_BASE64_CHUNK", 8)
    monkeypatch.setattr(media, "_THREAD_THRESHOLD", 16)
    data = os.urandom(1000)
    text = base64.b64encode(data).decode("ascii")
    wrapped = "\n".join(text[at : at + 7] for at in range(0, len(text), 7))
    for payload in (text, wrapped, " " + text + "\r\n"):
        incoming = await media.from_data_url("data:image/png;base64," + payload, "avatar")
        assert incoming.data == data
    for bad in ("QUJDQQ==QUJD", "QQ==QQ==", "QUJDQ", "QUJD*QQ=", "QUJDQ===", "QUJDé==="):
        with pytest.raises(BadRequest) as refused:
            await media.from_data_url("data:image/png;base64," + bad, "avatar")
        assert refused.value.message == "Invalid value for avatar: malformed base64", bad


@pytest_twisted.ensureDeferred
async def test_update_credentials_takes_avatar_and_header(rt: Runtime, client: Client) -> None:
    """update_credentials sets avatar, header and pleroma_background_image
    from multipart files, along with the other fields."""
    _, headers = await someone(rt)
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=headers,
        data={"display_name": "Alice"},
        files={
            "avatar": ("a.png", "image/png", image_bytes()),
            "header": ("h.jpg", "image/jpeg", image_bytes("JPEG")),
            "pleroma_background_image": ("b.gif", "image/gif", image_bytes("GIF")),
        },
    )
    code, me = await answer(response)
    assert code == 200, me
    assert me["display_name"] == "Alice"
    assert me["avatar"].startswith(f"{rt.config.server.base_url}/media/")
    assert me["avatar"].endswith(".png") and me["header"].endswith(".jpg")
    assert me["pleroma"]["background_image"].endswith(".gif")
    assert media_rows(rt) == 3 and len(stored_files(rt)) == 3


@pytest_twisted.ensureDeferred
async def test_update_credentials_refuses_bad_pictures_changing_nothing(
    rt: Runtime, client: Client
) -> None:
    """A picture update_credentials refuses stops the whole request: the
    other fields keep their values; and a refused field keeps good pictures
    from being stored.  Nothing is stored either way."""
    _, headers = await someone(rt)
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=headers,
        data={"display_name": "Changed"},
        files={
            "avatar": ("a.png", "image/png", TEXT),
            "header": ("h.png", "image/png", image_bytes()),
        },
    )
    assert await answer(response) == NOT_AN_IMAGE
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=headers,
        data={"default_scope": "nonsense"},
        files={"avatar": ("a.png", "image/png", image_bytes())},
    )
    assert (await answer(response))[0] == 422
    assert query(rt.db.dsn, "SELECT name, avatar, banner FROM users") == [(None, None, None)]
    assert_nothing_stored(rt)


# -- mascot ---------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_default_mascot_is_a_full_attachment(rt: Runtime, client: Client) -> None:
    """Without a mascot of its own an account gets the bundled one: every
    attachment key, an absolute URL that serves a PNG, type image."""
    _, headers = await someone(rt)
    code, body = await answer(await client.get(MASCOT, headers=headers))
    assert code == 200
    assert set(body) == ATTACHMENT_KEYS
    assert body["url"] == f"{rt.config.server.base_url}/images/mascot.png"
    assert body["type"] == "image" and body["pleroma"] == {"mime_type": "image/png"}
    response, served = await fetch(client, body["url"])
    assert response.code == 200 and decoded(served).format == "PNG"


@pytest_twisted.ensureDeferred
async def test_mascot_is_set_from_file_or_image_and_kept(rt: Runtime, client: Client) -> None:
    """PUT takes the picture as ``file`` or ``image``, answers it as an
    attachment and GET gives it back; a new one replaces the old file."""
    _, headers = await someone(rt)
    code, first = await put_mascot(client, headers, image_bytes())
    assert code == 200, first
    assert first["type"] == "image" and first["description"] == "m.png"
    assert await answer(await client.get(MASCOT, headers=headers)) == (200, first)
    code, second = await put_mascot(
        client, headers, image_bytes("GIF"), "n.gif", "image/gif", field="image"
    )
    assert code == 200 and second["pleroma"] == {"mime_type": "image/gif"}
    assert await answer(await client.get(MASCOT, headers=headers)) == (200, second)
    assert media_rows(rt) == 1 and len(stored_files(rt)) == 1
    assert (await client.get(path_of(first["url"]))).code == 404


@pytest_twisted.ensureDeferred
async def test_mascots_can_only_be_images(rt: Runtime, client: Client) -> None:
    """An SVG with a script or a text file declared image/png: 415 "mascots
    can only be images", nothing stored, the mascot unchanged; no file: 400."""
    _, headers = await someone(rt)
    refused = (415, {"error": "mascots can only be images"})
    assert await put_mascot(client, headers, SVG_WITH_SCRIPT, "m.svg", "image/svg+xml") == refused
    assert await put_mascot(client, headers, TEXT) == refused
    assert await answer(await client.put(MASCOT, headers=headers, data={"x": "1"})) == (
        400,
        {"error": "Missing field: file"},
    )
    assert_nothing_stored(rt)
    _, body = await answer(await client.get(MASCOT, headers=headers))
    assert body["id"] == "default-mascot"


@pytest_twisted.ensureDeferred
async def test_mascot_scopes(rt: Runtime, client: Client) -> None:
    """GET needs the read scope, PUT the write scope (DECISIONS 19)."""
    user = await make_user(rt, "alice")
    write_only = await bearer(rt, user, ["write"])
    read_only = await bearer(rt, user, ["read"])
    assert (await client.get(MASCOT, headers=write_only)).code == 403
    assert (await client.get(MASCOT, headers=read_only)).code == 200
    assert (await put_mascot(client, read_only, image_bytes()))[0] == 403
    assert_nothing_stored(rt)


# -- deletion ---------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_deleting_an_account_removes_its_media(rt: Runtime, client: Client) -> None:
    """Account deletion's content steps remove every row and file of the
    account (attachments, pictures, mascot), and running them again is
    harmless; other accounts' media stay."""
    alice, alice_headers = await someone(rt, "alice")
    _, bob_headers = await someone(rt, "bob")
    await upload(client, alice_headers, image_bytes())
    await patch_file(client, f"{PLEROMA}/update_avatar", alice_headers, "img", image_bytes())
    await put_mascot(client, alice_headers, image_bytes())
    _, kept = await upload(client, bob_headers, image_bytes())
    assert media_rows(rt) == 4

    await lifecycle.delete_account(rt, alice.id)
    await lifecycle.remove_content(rt, alice.id)
    await lifecycle.remove_content(rt, alice.id)
    assert query(rt.db.dsn, "SELECT id::text FROM media") == [(kept["id"],)]
    assert len(stored_files(rt)) == 1
    assert (await client.get(path_of(kept["url"]))).code == 200
