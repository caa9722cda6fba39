"""The ``s3`` uploader: files in a bucket of any S3-compatible store.

Requests are signed with AWS Signature Version 4 (:mod:`.sigv4`) and sent
with treq; the payload is hashed in a thread, so a 16 MB upload never
stalls the reactor.  With ``s3_endpoint`` set (MinIO, Garage, Ceph, moto...)
objects are addressed path-style, ``<endpoint>/<bucket>/<key>``; without it,
AWS's virtual-hosted style, ``https://<bucket>.s3.<region>.amazonaws.com/<key>``.
The bucket serves the files itself: ``s3_public_url`` (or the bucket's own
URL) is where clients fetch them, so the bucket (or a CDN in front of it)
must allow public reads.
"""

from __future__ import annotations

from typing import Any

import treq
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from pleromad.config import Config
from pleromad.media.images import served_inline, served_type
from pleromad.media.interface import PATH_PATTERN, IUploader, UploadFailed
from pleromad.media.sigv4 import EMPTY_SHA256, Credentials, payload_hash, sign

# Seconds one request to the store may take.
TIMEOUT = 60.0
# Files never change once stored (their names are new for every upload).
_CACHE_CONTROL = "public, max-age=31536000, immutable"


@implementer(IUploader)
class S3Uploader:
    """Stores each upload as one object; deletes are idempotent, as S3's are."""

    name = "s3"

    def __init__(
        self,
        reactor: IReactorTime,
        *,
        bucket_url: str,
        public_url: str,
        credentials: Credentials,
        http: Any = treq,
    ) -> None:
        self._reactor = reactor
        self._bucket_url = bucket_url.rstrip("/")
        self._public_url = public_url.rstrip("/")
        self._credentials = credentials
        self._http = http

    @classmethod
    def from_config(cls, config: Config, reactor: Any) -> S3Uploader:
        media = config.media
        for key in ("s3_bucket", "s3_access_key", "s3_secret_key"):
            if not getattr(media, key):
                raise ValueError(f'[media] {key}: must be set when backend = "s3"')
        if media.s3_endpoint:
            bucket_url = f"{media.s3_endpoint}/{media.s3_bucket}"
        else:
            bucket_url = f"https://{media.s3_bucket}.s3.{media.s3_region}.amazonaws.com"
        return cls(
            reactor,
            bucket_url=bucket_url,
            public_url=media.s3_public_url or bucket_url,
            credentials=Credentials(media.s3_access_key, media.s3_secret_key, media.s3_region),
        )

    def put(self, path: str, data: bytes, content_type: str) -> Deferred[None]:
        return Deferred.fromCoroutine(self._put(path, data, content_type))

    async def _put(self, path: str, data: bytes, content_type: str) -> None:
        # The bucket serves the file: with the type the local backend would
        # serve it with, decided by the server from the extension it chose.
        served = served_type(path.rpartition(".")[2])
        headers = {"content-type": served, "cache-control": _CACHE_CONTROL}
        if not served_inline(served):
            # What the local backend's own serving does: never render it in the page.
            headers["content-disposition"] = f'attachment; filename="{path.split("/")[1]}"'
        digest = await threads.deferToThread(payload_hash, data)
        await self._send("PUT", path, headers, data, digest)

    def delete(self, path: str) -> Deferred[None]:
        return Deferred.fromCoroutine(self._send("DELETE", path, {}, b"", EMPTY_SHA256))

    def url(self, path: str) -> str:
        return f"{self._public_url}/{path}"

    async def _send(
        self, method: str, path: str, headers: dict[str, str], body: bytes, digest: str
    ) -> None:
        if not PATH_PATTERN.fullmatch(path):
            raise ValueError(f"not a stored file's path: {path!r}")
        url = f"{self._bucket_url}/{path}"
        signed = sign(method, url, headers, digest, self._credentials, self._reactor.seconds())
        try:
            response = await self._http.request(
                method, url, headers={k: [v] for k, v in signed.items()}, data=body,
                timeout=TIMEOUT,
            )  # fmt: skip
            answer = await self._http.content(response)
        except Exception as e:  # any transport failure: the store is unreachable
            raise UploadFailed(f"s3 {method} {path}: {type(e).__name__}: {e}") from e
        if response.code >= 300 and not (method == "DELETE" and response.code == 404):
            raise UploadFailed(f"s3 {method} {path}: {response.code} {_s3_error(answer)}")


def _s3_error(body: bytes) -> str:
    """The <Code> of an S3 error document, or its first bytes."""
    text = body.decode("utf-8", "replace")
    start, end = text.find("<Code>"), text.find("</Code>")
    if 0 <= start < end:
        return text[start + len("<Code>") : end]
    return " ".join(text[:80].split())
