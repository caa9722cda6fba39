"""Uploads: attachments, profile pictures (avatar, banner, background) and mascots.

Every upload is checked completely before anything is written: its size
against the instance's limit, then its bytes (Pillow, in the CPU pool, see
:mod:`pleromad.workers`, which answers 503 when too many wait; see
:mod:`pleromad.media.images`).  Only then is the file stored, and then its
``media`` row written; if the row cannot be written the file is removed
again, so a refused upload leaves neither a row nor a file.  A replaced
profile picture or mascot loses its row in the same transaction that sets
the new one, and its file right after.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from twisted.internet.threads import deferToThread
from twisted.logger import Logger

from pleromad.db.pool import Txn
from pleromad.domain.profile import NOT_FOUND
from pleromad.errors import ApiError, BadRequest, NotFound
from pleromad.ids import parse_id
from pleromad.media import images
from pleromad.media.images import Inspected, InvalidImage, NotAnImage, TooManyPixels
from pleromad.media.interface import UploadFailed, new_path
from pleromad.model import Media, NewMedia, User
from pleromad.store import media as media_store
from pleromad.store import users
from pleromad.store.media import ATTACHMENT

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

log = Logger()

T = TypeVar("T")

FILE_TOO_LARGE = "file_too_large"
NOT_AN_IMAGE = "The file must be a PNG, JPEG, GIF or WebP image"
MASCOT_NOT_AN_IMAGE = "mascots can only be images"
UNDECODABLE = "The image could not be decoded"
STORAGE_UNAVAILABLE = "Media storage unavailable"

# As Pleroma's later :instance, :description_limit.
DESCRIPTION_LIMIT = 5000

MASCOT = "mascot"
# Each profile picture: the users column that shows it (named like the kind)
# and the [instance] key limiting its size.
PROFILE_IMAGE_LIMITS = {
    "avatar": "avatar_upload_limit",
    "banner": "banner_upload_limit",
    "background": "background_upload_limit",
}

# Data URLs longer than this are decoded off the reactor thread.
_THREAD_THRESHOLD = 64 * 1024
# Base64 characters cleaned and decoded by one call: binascii and str.split
# hold the GIL for a whole call, so a 4 MB banner decoded at once from a
# thread kept the reactor waiting up to 29 ms; by chunks, 5-8 ms (at most a
# switch interval: between calls the GIL can change hands).
_BASE64_CHUNK = 64 * 1024


class FileTooLarge(ApiError):
    status = 413

    def __init__(self) -> None:
        super().__init__(FILE_TOO_LARGE)


class UnsupportedMedia(ApiError):
    """Not a file of a type this endpoint takes."""

    status = 415


class InvalidUpload(ApiError):
    status = 422


@dataclass(frozen=True)
class Incoming:
    """A file a client sent: its bytes and the name it gave (maybe "")."""

    data: bytes
    filename: str


@dataclass(frozen=True)
class ProfileImage:
    """A checked change of one profile picture; ``inspected`` None clears it."""

    kind: str
    filename: str
    inspected: Inspected | None


# -- what clients send --------------------------------------------------------


async def from_data_url(text: str, name: str) -> Incoming:
    """The bytes of a ``data:...;base64,...`` URL (the declared type is
    ignored: the bytes decide); 400 naming ``name`` for anything else."""
    header, comma, payload = text.partition(",")
    header = header.strip().lower()
    if not comma or not header.startswith("data:") or not header.endswith(";base64"):
        raise BadRequest(f"Invalid value for {name}: expected a file or a base64 data: URL")
    if len(payload) > _THREAD_THRESHOLD:
        data = await deferToThread(_decode_base64, payload, name)
    else:
        data = _decode_base64(payload, name)
    return Incoming(data, "")


def _decode_base64(payload: str, name: str) -> bytes:
    """``payload`` (whitespace ignored) decoded a chunk at a time; padding
    anywhere but at the end is malformed, as when decoded at once."""
    compact = "".join("".join(piece.split()) for piece in _chunks(payload))
    if len(compact) % 4 or compact.find("=", 0, len(compact) - 2) != -1:
        raise BadRequest(f"Invalid value for {name}: malformed base64")
    try:
        return b"".join(base64.b64decode(piece, validate=True) for piece in _chunks(compact))
    except (binascii.Error, ValueError):
        raise BadRequest(f"Invalid value for {name}: malformed base64") from None


def _chunks(text: str) -> Iterable[str]:
    return (text[at : at + _BASE64_CHUNK] for at in range(0, len(text), _BASE64_CHUNK))


# -- attachments -------------------------------------------------------------


async def upload_media(
    rt: Runtime, user: User, incoming: Incoming, description: str | None
) -> Media:
    """Store an attachment of ``user``: any file up to ``upload_limit``;
    images must decode.  ``description`` defaults to the file's name."""
    _check_size(incoming, rt.config.instance.upload_limit)
    _check_description(description)
    try:
        inspected = await rt.images.run(images.inspect_media, incoming.data, incoming.filename)
    except InvalidImage:
        raise InvalidUpload(UNDECODABLE) from None
    except TooManyPixels as e:
        raise InvalidUpload(str(e)) from None
    new = await _put(rt, ATTACHMENT, incoming.filename, inspected, description)
    media: Media = await _recorded(rt, [new], _replace_txn, user.id, {ATTACHMENT: new})
    return media


async def get_media(rt: Runtime, user: User, media_id: str) -> Media:
    """The attachment ``media_id`` if ``user`` uploaded it; 404 otherwise."""
    found = await rt.db.run_interaction("get media", media_store.get_media_txn, _media_id(media_id))
    if found is None or found.user_id != user.id or found.purpose != ATTACHMENT:
        raise NotFound()
    return found


async def describe_media(rt: Runtime, user: User, media_id: str, description: str | None) -> Media:
    """Set the description of ``user``'s attachment (None: leave it); 404
    for one that is not theirs."""
    if description is None:
        return await get_media(rt, user, media_id)
    _check_description(description)
    updated = await rt.db.run_interaction(
        "describe media",
        media_store.set_description_txn,
        _media_id(media_id),
        user.id,
        description,
    )
    if updated is None:
        raise NotFound()
    return updated


def _media_id(text: str) -> int:
    media_id = parse_id(text) if text == text.strip() else None
    if media_id is None:
        raise NotFound()
    return media_id


def _check_description(description: str | None) -> None:
    if description is not None and len(description) > DESCRIPTION_LIMIT:
        raise InvalidUpload(f"description is too long (at most {DESCRIPTION_LIMIT} characters)")


# -- profile pictures --------------------------------------------------------


async def check_profile_images(
    rt: Runtime, changes: dict[str, Incoming | None]
) -> list[ProfileImage]:
    """Check every new picture of ``changes`` (kind -> file, or None to
    clear) without storing anything: 413 over the kind's limit, 415 for
    what is not a PNG, JPEG, GIF or WebP image, 422 for too many pixels."""
    checked = []
    for kind, incoming in changes.items():
        if incoming is None:
            checked.append(ProfileImage(kind, "", None))
            continue
        _check_size(incoming, getattr(rt.config.instance, PROFILE_IMAGE_LIMITS[kind]))
        inspected = await _image(rt, incoming, NOT_AN_IMAGE)
        checked.append(ProfileImage(kind, incoming.filename, inspected))
    return checked


async def apply_profile_images(rt: Runtime, user: User, checked: list[ProfileImage]) -> User:
    """Store checked pictures and show them on the account, replacing (and
    removing) the previous ones."""
    if not checked:
        return user
    news: dict[str, NewMedia | None] = {}
    try:
        for change in checked:
            news[change.kind] = (
                None
                if change.inspected is None
                else await _put(rt, change.kind, change.filename or change.kind, change.inspected)
            )
    except BaseException:
        await _discard(rt, (new.path for new in news.values() if new is not None))
        raise
    stored = [new for new in news.values() if new is not None]
    updated: User = await _recorded(rt, stored, _replace_txn, user.id, news)
    return updated


async def set_profile_image(rt: Runtime, user: User, kind: str, incoming: Incoming | None) -> User:
    """update_avatar, update_banner, update_background: one picture set or
    (``incoming`` None) cleared."""
    checked = await check_profile_images(rt, {kind: incoming})
    return await apply_profile_images(rt, user, checked)


def _profile_image(media: Media) -> dict[str, Any]:
    """How a picture is kept in its users column: the ActivityStreams Image
    Pleroma stores (see pleromad.views.accounts.image_url)."""
    return {
        "type": "Image",
        "url": [{"type": "Link", "mediaType": media.mime_type, "href": media.url}],
        "name": media.description,
    }


# -- mascot --------------------------------------------------------------------


async def get_mascot(rt: Runtime, user: User) -> Media | None:
    """The mascot ``user`` chose, or None for the instance's default."""
    return await rt.db.run_interaction(
        "get mascot", media_store.get_user_media_for_txn, user.id, MASCOT
    )


async def set_mascot(rt: Runtime, user: User, incoming: Incoming) -> Media:
    """Make an image the account's mascot: 413 over ``upload_limit``, 415
    for anything that is not an image, and nothing stored on either."""
    _check_size(incoming, rt.config.instance.upload_limit)
    inspected = await _image(rt, incoming, MASCOT_NOT_AN_IMAGE)
    new = await _put(rt, MASCOT, incoming.filename, inspected)
    media: Media = await _recorded(rt, [new], _replace_txn, user.id, {MASCOT: new})
    return media


# -- a deleted account's media ---------------------------------------------------

_REMOVAL_BATCH = 100


async def remove_user_media(rt: Runtime, user_id: int) -> None:
    """Remove every file and row of ``user_id`` (a content step of account
    deletion).  Files go before their rows, so a run cut short leaves rows
    naming what is left to remove, and running it again finishes the work."""
    while True:
        batch = await rt.db.run_interaction(
            "user media", media_store.some_user_media_txn, user_id, _REMOVAL_BATCH
        )
        if not batch:
            return
        for media in batch:
            # A remote attachment is a reference: there is no file of ours.
            if media.path is not None:
                await rt.uploader.delete(media.path)
        await rt.db.run_interaction(
            "delete user media", media_store.delete_media_rows_txn, [m.id for m in batch]
        )


# -- the steps every upload takes ----------------------------------------------


def _check_size(incoming: Incoming, limit: int) -> None:
    # A file of exactly the limit passes, as in the reference's media upload.
    if len(incoming.data) > limit:
        raise FileTooLarge()


async def _image(rt: Runtime, incoming: Incoming, not_an_image: str) -> Inspected:
    try:
        return await rt.images.run(images.inspect_image, incoming.data)
    except (NotAnImage, InvalidImage):
        raise UnsupportedMedia(not_an_image) from None
    except TooManyPixels as e:
        raise InvalidUpload(str(e)) from None


async def _put(
    rt: Runtime, purpose: str, filename: str, inspected: Inspected, description: str | None = None
) -> NewMedia:
    """Store the file under a new path; the row that records it is not written yet."""
    path = new_path(filename, inspected.extension)
    try:
        await rt.uploader.put(path, inspected.data, inspected.mime_type)
    except UploadFailed as e:
        log.warn("storing an upload failed: {why}", why=e)
        raise ApiError(STORAGE_UNAVAILABLE, status=503) from None
    return NewMedia(
        purpose=purpose,
        path=path,
        url=rt.uploader.url(path),
        mime_type=inspected.mime_type,
        size=len(inspected.data),
        description=description if description is not None else filename or path.split("/")[1],
    )


async def _recorded(
    rt: Runtime,
    stored: list[NewMedia],
    replace_txn: Callable[..., Coroutine[Any, Any, tuple[T, list[str]] | None]],
    *args: Any,
) -> T:
    """Run ``replace_txn``; remove the ``stored`` files again if it fails
    or finds the account gone, and the files it replaced once it committed."""
    try:
        result = await rt.db.run_interaction("record media", replace_txn, *args)
    except BaseException:
        await _discard(rt, (new.path for new in stored))
        raise
    if result is None:
        await _discard(rt, (new.path for new in stored))
        raise NotFound(NOT_FOUND)
    value, replaced = result
    await _discard(rt, replaced)
    return value


async def _replace_txn(
    txn: Txn, user_id: int, news: dict[str, NewMedia | None]
) -> tuple[Any, list[str]] | None:
    """Record new files by purpose, replacing the account's previous profile
    picture or mascot of that purpose.  Answers (the new Media, or the
    updated User when pictures changed; the replaced paths), or None for an
    account that is gone."""
    # The account's row lock orders this with deletion (the account's files
    # are removed after it is marked deleted) and with concurrent replacements.
    user = await users.get_user_for_update_txn(txn, user_id)
    if user is None or user.deleted:
        return None
    replaced: list[str] = []
    columns: dict[str, Any] = {}
    created: Media | None = None
    for purpose, new in news.items():
        created = None if new is None else await media_store.insert_media_txn(txn, user_id, new)
        if purpose != ATTACHMENT:
            replaced += await media_store.delete_user_media_txn(
                txn, user_id, purpose, keep=None if created is None else created.id
            )
        if purpose in PROFILE_IMAGE_LIMITS:
            columns[purpose] = None if created is None else _profile_image(created)
    if columns:
        updated = await users.update_user_txn(txn, user_id, **columns)
        return updated, replaced
    return created, replaced


async def _discard(rt: Runtime, paths: Iterable[str]) -> None:
    """Remove files no row names (any more); a failure is logged, not raised:
    the request it follows has succeeded or failed already."""
    for path in paths:
        try:
            await rt.uploader.delete(path)
        except Exception:
            log.failure("could not remove the media file {path}", path=path)
