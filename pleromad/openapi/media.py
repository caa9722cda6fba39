"""Media and emoji: attachment uploads and their descriptions, the stored
and bundled files (:mod:`pleromad.web.media`), the custom emoji lists and
their files (:mod:`pleromad.web.emoji`)."""

from __future__ import annotations

from pleromad.openapi.spec import (
    BOOLEAN,
    FILE,
    ID,
    STRING,
    Operation,
    Response,
    Schema,
    answer,
    array,
    binary,
    closed,
    map_of,
    no_content,
    ref,
)

TAG = "Media and emoji"

SCHEMAS: dict[str, Schema] = {
    "CustomEmoji": closed(
        {
            "shortcode": STRING,
            "url": STRING,
            "static_url": STRING,
            "visible_in_picker": BOOLEAN,
            "tags": array(STRING),
            "category": {
                **STRING,
                "description": "The emoji's tags but the default one, joined by commas.",
            },
        }
    ),
    "PleromaEmoji": closed(
        {
            "image_url": {**STRING, "description": "The file's path on this server."},
            "tags": array(STRING),
        }
    ),
}

_ID = {"id": ID}
_MINE = "The id names no attachment the reader uploaded."
_DESCRIPTION: Schema = {**STRING, "description": "Alt text, at most 5000 characters."}

_UPLOAD = Operation(
    "Upload an attachment.",
    responses={200: answer(ref("Attachment"), "The stored attachment, ready to post.")},
    fields={
        "description": {
            **_DESCRIPTION,
            "description": "Alt text, at most 5000 characters; by default the file's name.",
        }
    },
    files={"file": FILE},
    required=("file",),
    description=(
        "Any kind of file up to the instance's upload limit; an image must"
        " decode.  Its type is decided from its bytes, never from the name or"
        " the type the client gives."
    ),
    errors={
        404: "The account was deleted while the file was stored.",
        413: "The file is over the instance's upload limit (`file_too_large`), or"
        " the body over the body limit.",
        422: "An image that does not decode or has too many pixels, or a description"
        " that is too long.",
    },
)

# What twisted.web answers for a file besides the file itself.
_FILE_ANSWERS: dict[int, Response] = {
    206: binary("The ranges asked for with `Range`.", "*/*"),
    304: no_content("Not modified since `If-Modified-Since`."),
    416: no_content("A `Range` outside the file."),
}

_LIST_HEADERS = {
    "ETag": "The list's entity tag.",
    "Cache-Control": "Public, for 5 minutes.",
}
_NOT_MODIFIED = no_content(
    "The client's copy is current: `If-None-Match` matches the ETag.", **_LIST_HEADERS
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/v1/media"): _UPLOAD,
    ("POST", "/api/v2/media"): Operation(
        _UPLOAD.summary,
        responses=_UPLOAD.responses,
        fields=_UPLOAD.fields,
        files=_UPLOAD.files,
        required=_UPLOAD.required,
        description=f"{_UPLOAD.description}  Always 200: the file is processed before the answer.",
        errors=_UPLOAD.errors,
    ),
    ("GET", "/api/v1/media/{id}"): Operation(
        "One of the reader's attachments.",
        responses={200: answer(ref("Attachment"))},
        path=_ID,
        errors={404: _MINE},
    ),
    ("PUT", "/api/v1/media/{id}"): Operation(
        "Describe one of the reader's attachments.",
        responses={200: answer(ref("Attachment"), "The attachment as it is now.")},
        fields={
            "description": {
                **_DESCRIPTION,
                "description": "Alt text, at most 5000 characters; absent: unchanged.",
            }
        },
        path=_ID,
        errors={404: _MINE, 422: "A description that is too long."},
    ),
    ("GET", "/media/{path}"): Operation(
        "A stored file.",
        responses={
            200: binary(
                "The file, with the type decided when it was stored, `nosniff` and a"
                " sandboxing CSP; anything but images, audio and video as a download.",
                "*/*",
            ),
            **_FILE_ANSWERS,
        },
        description="Cached for a year: stored names are never reused.",
        errors={404: "No stored file has this path."},
    ),
    ("GET", "/images/{name}"): Operation(
        "A bundled image: avi.png, banner.png or mascot.png.",
        responses={
            200: binary("The image.", "image/png"),
            **_FILE_ANSWERS,
        },
        path={"name": {"type": "string", "enum": ["avi.png", "banner.png", "mascot.png"]}},
        description="The default avatar, banner and mascot.",
        errors={404: "Not one of the bundled images."},
    ),
    ("GET", "/api/pleroma/emoji"): Operation(
        "The custom emoji, Pleroma's way.",
        responses={
            200: answer(
                map_of(ref("PleromaEmoji")), "Shortcode -> its file and tags.", **_LIST_HEADERS
            ),
            304: _NOT_MODIFIED,
        },
    ),
    ("GET", "/api/v1/custom_emojis"): Operation(
        "The custom emoji, Mastodon's way.",
        responses={
            200: answer(
                array(ref("CustomEmoji")), "Every emoji, shown in pickers.", **_LIST_HEADERS
            ),
            304: _NOT_MODIFIED,
        },
    ),
    ("GET", "/emoji/{relpath}"): Operation(
        "A custom emoji's file.",
        responses={
            200: binary(
                "The file, with the type of its extension and `nosniff`; cached for a day.",
                "image/*",
            )
        },
        errors={404: "No emoji of the table has this file."},
    ),
}
