"""The ``s3`` uploader against a real S3 API (moto's server) on loopback,
and its request signer against AWS's published example and botocore."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from moto.server import ThreadedMotoServer
from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from zope.interface.verify import verifyObject

from pleromad.domain import media
from pleromad.media.interface import IUploader
from pleromad.media.plugins import uploader_for
from pleromad.media.s3 import S3Uploader
from pleromad.media.sigv4 import EMPTY_SHA256, Credentials, payload_hash, sign
from pleromad.runtime import Runtime
from pleromad.web.root import build_gateway
from tests.conftest import Client
from tests.helpers import query
from tests.test_media import MEDIA_V1, image_bytes, someone, upload

KEYS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
BUCKET = "pleromad-media"


def test_signature_matches_the_aws_example() -> None:
    """The GET Object example of AWS's SigV4 documentation signs to its published value."""
    signed = sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        EMPTY_SHA256,
        KEYS,
        now=1369353600.0,  # 2013-05-24T00:00:00Z
    )
    assert signed["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


@pytest.mark.parametrize(
    ("method", "url", "headers", "body"),
    [
        ("PUT", "http://127.0.0.1:9000/b/abc_DEF-123/pic.png",
         {"content-type": "image/png", "cache-control": "public, max-age=1"}, b"\x89PNG..."),
        ("DELETE", "https://b.s3.eu-west-3.amazonaws.com/k/x.bin", {}, b""),
        ("PUT", "http://127.0.0.1:9000/b/k/notes.txt",
         {"content-disposition": 'attachment; filename="notes.txt"'}, b"plain words"),
    ],
)  # fmt: skip
def test_signature_matches_botocore(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> None:
    """Our signer and botocore's agree on the same request, byte for byte."""
    keys = replace(KEYS, region="eu-west-3")
    theirs = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    S3SigV4Auth(BotoCredentials(keys.access_key, keys.secret_key), "s3", "eu-west-3").add_auth(
        theirs
    )
    when = datetime.strptime(theirs.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    ours = sign(method, url, headers, payload_hash(body), keys, now=when.timestamp())
    assert ours["authorization"] == theirs.headers["Authorization"]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 API, in a thread, on a loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def boto_client(endpoint: str) -> Any:
    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=KEYS.region,
        aws_access_key_id=KEYS.access_key,
        aws_secret_access_key=KEYS.secret_key,
    )


def s3_runtime(rt: Runtime, endpoint: str, bucket: str) -> Runtime:
    settings = replace(
        rt.config.media,
        backend="s3",
        s3_bucket=bucket,
        s3_endpoint=endpoint,
        s3_region=KEYS.region,
        s3_access_key=KEYS.access_key,
        s3_secret_key=KEYS.secret_key,
        s3_public_url="https://cdn.example/media",
    )
    config = replace(rt.config, media=settings)
    return replace(rt, config=config, uploader=uploader_for(config, reactor))


def test_the_plugin_is_found_and_refuses_an_incomplete_configuration(rt: Runtime) -> None:
    """`[media] backend = "s3"` finds the plugin; a missing bucket or key is one line."""
    uploader = s3_runtime(rt, "http://127.0.0.1:9", BUCKET).uploader
    assert isinstance(uploader, S3Uploader) and verifyObject(IUploader, uploader)
    settings = replace(rt.config.media, backend="s3", s3_bucket="", s3_access_key="k")
    with pytest.raises(ValueError, match=r'^\[media\] s3_bucket: must be set when backend = "s3"$'):
        uploader_for(replace(rt.config, media=settings), reactor)


async def test_uploads_are_stored_served_typed_and_deleted(
    rt: Runtime, serve: Any, s3_server: str
) -> None:
    """An upload lands in the bucket with the type and disposition the local
    backend would serve it with, is linked at the public URL, and deleting
    it removes the object."""
    s3 = boto_client(s3_server)
    await deferToThread(s3.create_bucket, Bucket=BUCKET)
    rt = s3_runtime(rt, s3_server, BUCKET)
    client: Client = serve(build_gateway(rt))
    _user, headers = await someone(rt)
    png = image_bytes()

    code, picture = await upload(client, headers, png)
    assert code == 200
    key = picture["url"].removeprefix("https://cdn.example/media/")
    stored = await deferToThread(s3.get_object, Bucket=BUCKET, Key=key)
    assert stored["ContentType"] == "image/png" and "ContentDisposition" not in stored
    assert stored["Body"].read() == png  # a clean PNG is stored as sent

    code, text = await upload(client, headers, b"<script>1</script>", "page.html", "text/html")
    assert code == 200
    key = text["url"].removeprefix("https://cdn.example/media/")
    stored = await deferToThread(s3.get_object, Bucket=BUCKET, Key=key)
    assert stored["ContentType"] == "application/octet-stream"
    assert stored["ContentDisposition"].startswith("attachment;")

    await rt.uploader.delete(key)
    await rt.uploader.delete(key)  # gone already: still fine
    listed = await deferToThread(s3.list_objects_v2, Bucket=BUCKET)
    assert [o["Key"] for o in listed["Contents"]] == [
        picture["url"].removeprefix("https://cdn.example/media/")
    ]


async def test_a_bucket_that_refuses_writes_answers_503_and_records_nothing(
    rt: Runtime, serve: Any, s3_server: str
) -> None:
    """When the store refuses (here: no such bucket), the upload is 503 and no
    media row is written."""
    rt = s3_runtime(rt, s3_server, "no-such-bucket")
    client: Client = serve(build_gateway(rt))
    _user, headers = await someone(rt)
    code, body = await upload(client, headers, image_bytes(), path=MEDIA_V1)
    assert (code, body) == (503, {"error": media.STORAGE_UNAVAILABLE})
    assert query(rt.db.dsn, "SELECT count(*) FROM media") == [(0,)]
