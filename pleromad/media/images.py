"""What an uploaded file is, decided from its bytes alone, and the bytes we store.

The client's declared type and file name never decide the type: images must
open with Pillow as PNG, JPEG, GIF or WebP and decode completely; audio and
video are recognised by their magic bytes; anything else is an opaque
``application/octet-stream`` that is only ever served as a download.  Stored
images lose their metadata (EXIF with its GPS position, XMP, IPTC, text
chunks): without a rotation it is cut out of the file, losslessly; with one,
the image is rotated as its EXIF says and encoded again without it.

Everything here is synchronous and CPU-bound: run it in a thread.  Pillow
is imported by the functions that decode, on the first upload, not with the
module: an idle daemon does not carry it (see docs/memory.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Decoding a 50 MP image takes some 200 MB; anything larger is refused
# before a single pixel is decoded.
PIXEL_LIMIT = 50_000_000

OCTET_STREAM = "application/octet-stream"

# The one table mapping the extensions we give stored files to the types
# they are served with; every other extension is served as OCTET_STREAM.
SERVED_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
}

# Pillow format -> the extension it is stored with.
_IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "GIF": "gif", "WEBP": "webp"}
_OPENERS = ["PNG", "JPEG", "GIF", "WEBP"]
_EXIF_ORIENTATION = 0x0112

_OTHER_EXTENSION = re.compile(r"[a-z0-9]{1,10}")


class NotAnImage(ValueError):
    """The bytes are not a PNG, JPEG, GIF or WebP image."""


class InvalidImage(ValueError):
    """The bytes start like an image of an allowed format but do not decode."""


class TooManyPixels(ValueError):
    """The image declares more pixels than we decode (a decompression bomb)."""

    def __init__(self, limit: int = PIXEL_LIMIT) -> None:
        super().__init__(f"Image is too large: at most {limit} pixels")


@dataclass(frozen=True)
class Inspected:
    """A file as we store it: its bytes, type and the extension it gets."""

    data: bytes
    mime_type: str
    extension: str

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


def inspect_image(data: bytes, pixel_limit: int = PIXEL_LIMIT) -> Inspected:
    """``data`` as a stored image; NotAnImage, InvalidImage or TooManyPixels."""
    from PIL import Image

    try:
        image = Image.open(BytesIO(data), formats=_OPENERS)
    except Image.DecompressionBombError:
        raise TooManyPixels(pixel_limit) from None
    except Exception:
        # UnidentifiedImageError, or any error a format plugin raises while
        # reading a header: either way the bytes are not an image we take.
        raise NotAnImage() from None
    with image:
        pillow_format = image.format or ""
        extension = _IMAGE_FORMATS[pillow_format]
        if image.width * image.height > pixel_limit:
            raise TooManyPixels(pixel_limit)
        try:
            stored = _without_metadata(image, data)
        except Image.DecompressionBombError:
            raise TooManyPixels(pixel_limit) from None
        except Exception:
            # Pillow's decoders raise OSError, SyntaxError, ValueError,
            # struct.error, EOFError ... for broken data.
            raise InvalidImage() from None
    _decode_completely(stored, pixel_limit)
    return Inspected(stored, SERVED_TYPES[extension], extension)


def inspect_media(data: bytes, filename: str, pixel_limit: int = PIXEL_LIMIT) -> Inspected:
    """``data`` as a stored attachment: an image (checked as
    :func:`inspect_image` does, with its errors), audio or video recognised by
    its magic bytes, or else an opaque file."""
    try:
        return inspect_image(data, pixel_limit)
    except NotAnImage:
        pass
    sniffed = _sniff_audio_video(data)
    if sniffed is not None:
        mime_type, extension = sniffed
        return Inspected(data, mime_type, extension)
    return Inspected(data, OCTET_STREAM, _other_extension(filename))


def served_type(extension: str) -> str:
    """The content type a stored file with ``extension`` is served with."""
    return SERVED_TYPES.get(extension.lower(), OCTET_STREAM)


def served_inline(content_type: str) -> bool:
    """Whether a browser may show a stored file of ``content_type`` in the
    page; anything else is served as an ``attachment`` to download."""
    return content_type.startswith(("image/", "video/", "audio/"))


# -- images --------------------------------------------------------------------


def _stored_format(pillow_format: str) -> str:
    return "JPEG" if pillow_format == "MPO" else pillow_format


def _without_metadata(image: Image.Image, data: bytes) -> bytes:
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    rotated = orientation in range(2, 9) and not getattr(image, "is_animated", False)
    # An MPO (several JPEGs in one file, from cameras) has an EXIF block per
    # picture; only the first picture is kept.
    if rotated or image.format == "MPO":
        return _encode_upright(image)
    strip = _STRIPPERS.get(image.format or "")
    return strip(data) if strip is not None else data


def _encode_upright(image: Image.Image) -> bytes:
    from PIL import ImageOps

    pillow_format = _stored_format(image.format or "")
    upright = ImageOps.exif_transpose(image)
    options = {}
    if upright.info.get("icc_profile"):
        options["icc_profile"] = upright.info["icc_profile"]
    if pillow_format in ("JPEG", "WEBP"):
        options["quality"] = 90
    if pillow_format == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
        upright = upright.convert("RGB")
    out = BytesIO()
    # No exif= option: nothing of the original metadata is written.
    upright.save(out, pillow_format, **options)
    return out.getvalue()


def _decode_completely(data: bytes, pixel_limit: int) -> None:
    from PIL import Image

    try:
        with Image.open(BytesIO(data), formats=_OPENERS) as image:
            if image.width * image.height > pixel_limit:
                raise TooManyPixels(pixel_limit)
            image.load()
    except TooManyPixels:
        raise
    except Image.DecompressionBombError:
        raise TooManyPixels(pixel_limit) from None
    except Exception:
        raise InvalidImage() from None


# JPEG segments kept: APP0 (JFIF), APP2 (ICC profile), APP14 (Adobe colour
# transform).  Every other APPn (APP1 EXIF/XMP, APP13 IPTC, makers' notes)
# and COM comments are dropped.
_JPEG_KEPT_APPS = frozenset({0xE0, 0xE2, 0xEE})
_JPEG_SOS, _JPEG_EOI, _JPEG_COM = 0xDA, 0xD9, 0xFE


def _strip_jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    out = bytearray(data[:2])
    i, size = 2, len(data)
    while True:
        if i + 2 > size or data[i] != 0xFF:
            raise ValueError("malformed JPEG")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == _JPEG_SOS:
            # From the first scan on there is no metadata segment to find.
            out += data[i:]
            return bytes(out)
        if marker == _JPEG_EOI:
            raise ValueError("JPEG without image data")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            out += data[i : i + 2]
            i += 2
            continue
        if i + 4 > size:
            raise ValueError("truncated JPEG")
        end = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if end > size or end < i + 4:
            raise ValueError("truncated JPEG")
        app = 0xE0 <= marker <= 0xEF
        if not (marker == _JPEG_COM or (app and marker not in _JPEG_KEPT_APPS)):
            out += data[i:end]
        i = end


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_METADATA = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})


def _strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    out = bytearray(_PNG_SIGNATURE)
    i = len(_PNG_SIGNATURE)
    while i + 12 <= len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG")
        if kind not in _PNG_METADATA:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            return bytes(out)  # and whatever trails the image is dropped
    raise ValueError("PNG without IEND")


_WEBP_METADATA = frozenset({b"EXIF", b"XMP "})
# VP8X flag bits announcing the EXIF and XMP chunks.
_VP8X_METADATA_FLAGS = 0x08 | 0x04


def _strip_webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    chunks = bytearray()
    i = 12
    while i + 8 <= end:
        kind = data[i : i + 4]
        length = int.from_bytes(data[i + 4 : i + 8], "little")
        if i + 8 + length > end:
            raise ValueError("truncated WebP")
        chunk = bytearray(data[i : i + 8 + length])
        if length % 2:
            chunk += b"\0"
        if kind == b"VP8X" and length >= 1:
            chunk[8] &= ~_VP8X_METADATA_FLAGS & 0xFF
        if kind not in _WEBP_METADATA:
            chunks += chunk
        i += 8 + length + length % 2
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WEBP" + bytes(chunks)


_STRIPPERS = {"JPEG": _strip_jpeg, "PNG": _strip_png, "WEBP": _strip_webp}


# -- everything else -------------------------------------------------------------

_MP3_FRAME_STARTS = (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


def _sniff_audio_video(data: bytes) -> tuple[str, str] | None:
    """The audio or video type ``data`` starts like, or None."""
    head = data[:12]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm", "webm"
    if head[4:8] == b"ftyp":
        return "video/mp4", "mp4"
    if head.startswith(b"OggS"):
        return "audio/ogg", "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav", "wav"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo", "avi"
    if head.startswith(b"ID3") or head.startswith(_MP3_FRAME_STARTS):
        return "audio/mpeg", "mp3"
    return None


def _other_extension(filename: str) -> str:
    """The client's extension for an opaque file, unless it is one of ours
    (a text file called ``x.png`` must not be served as a PNG) or odd."""
    extension = filename.rsplit(".", 1)[1].lower() if "." in filename else ""
    if _OTHER_EXTENSION.fullmatch(extension) and extension not in SERVED_TYPES:
        return extension
    return "bin"
