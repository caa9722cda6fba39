"""HTTP Signatures: the draft's own test vectors, round trips and refusals."""

from __future__ import annotations

import calendar
import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from pleromad.federation import httpsig
from pleromad.federation.httpsig import SignatureError

# Appendix C of draft-cavage-http-signatures-12: its test key and request.
DRAFT_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3
6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6
Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw
oYi+1hqp1fIekaxsyQIDAQAB
-----END PUBLIC KEY-----
"""
DRAFT_PRIVATE_KEY = """-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----
"""
DRAFT_BODY = b'{"hello": "world"}'
DRAFT_PATH = "/foo?param=value&pet=dog"
DRAFT_NOW = calendar.timegm((2014, 1, 5, 21, 31, 40))
DRAFT_HEADERS = {
    "host": "example.com",
    "date": "Sun, 05 Jan 2014 21:31:40 GMT",
    "content-type": "application/json",
    "digest": "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "content-length": "18",
}
DRAFT_DEFAULT = (
    'keyId="Test",algorithm="rsa-sha256",signature="SjWJWbWN7i0wzBvtPl8rbASWz5xQW6mcJmn+'
    "ibttBqtifLN7Sazz6m79cNfwwb8DMJ5cou1s7uEGKKCs+FLEEaDV5lp7q25WqS+lavg7T8hc0GppauB6hbgEK"
    'TwblDHYGEtbGmtdHgVCk9SuS13F0hZ8FD0k/5OxEPXe5WozsbM="'
)
DRAFT_BASIC_SIGNATURE = (
    "qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw"
    "3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0="
)
DRAFT_BASIC = (
    'keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",'
    f'signature="{DRAFT_BASIC_SIGNATURE}"'
)
DRAFT_ALL_HEADERS = (
    'keyId="Test",algorithm="rsa-sha256",'
    'headers="(request-target) host date content-type digest content-length",'
    'signature="vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB'
    '2bEKBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE="'
)

URL = "https://remote.example/users/alice/inbox"
KEY_ID = "https://local.example/users/bob#main-key"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return public, private


def _received(sent: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in sent.items()}


def _check(
    value: str, public: str, *, method: str = "POST", path: str = "/users/alice/inbox", **headers
) -> bool:
    return httpsig.verify(
        httpsig.parse_signature(value),
        method=method,
        path=path,
        headers=headers,
        public_key_pem=public,
    )


def test_digest_of_the_draft_body() -> None:
    """The Digest of the draft's body is the one its example request carries."""
    assert httpsig.digest(DRAFT_BODY) == DRAFT_HEADERS["digest"]
    httpsig.check_digest(DRAFT_HEADERS, DRAFT_BODY)


def test_draft_basic_signature_is_reproduced() -> None:
    """Signing the draft's request with its key gives the draft's Basic Test
    signature byte for byte (RSA PKCS#1 v1.5 is deterministic)."""
    sent = httpsig.sign_headers(
        "POST",
        "https://example.com" + DRAFT_PATH,
        key_id="Test",
        private_key_pem=DRAFT_PRIVATE_KEY,
        now=DRAFT_NOW,
    )
    assert sent["Host"] == "example.com"
    assert sent["Date"] == DRAFT_HEADERS["date"]
    assert "Digest" not in sent
    assert sent["Signature"] == DRAFT_BASIC


@pytest.mark.parametrize("value", [DRAFT_BASIC, DRAFT_ALL_HEADERS])
def test_draft_vectors_verify(value: str) -> None:
    """The draft's Basic and All Headers signatures verify over its request
    (the Basic one only when no Digest coverage is demanded)."""
    sig = httpsig.parse_signature(value)
    assert sig.key_id == "Test"
    assert httpsig.verify(
        sig,
        method="POST",
        path=DRAFT_PATH,
        headers=DRAFT_HEADERS,
        public_key_pem=DRAFT_PUBLIC_KEY,
        has_body="digest" in sig.headers,
    )


def test_draft_basic_on_post_covers_too_little() -> None:
    """A POST whose signature leaves out the Digest is refused: its body could be swapped."""
    with pytest.raises(SignatureError, match="digest"):
        _check(DRAFT_BASIC, DRAFT_PUBLIC_KEY, path=DRAFT_PATH, **DRAFT_HEADERS)


def test_draft_default_covers_too_little() -> None:
    """The draft's Default Test signs the date alone: it could be replayed
    against any path and host, so it is refused."""
    sig = httpsig.parse_signature(DRAFT_DEFAULT)
    assert sig.headers == ("date",)
    with pytest.raises(SignatureError, match=r"\(request-target\), host"):
        _check(DRAFT_DEFAULT, DRAFT_PUBLIC_KEY, method="GET", **DRAFT_HEADERS)


def test_post_round_trip(pair: tuple[str, str]) -> None:
    """A signed POST covers target, host, date and digest and verifies with the signer's key."""
    public, private = pair
    body = b'{"type": "Follow"}'
    sent = httpsig.sign_headers(
        "POST", URL, key_id=KEY_ID, private_key_pem=private, now=NOW, body=body
    )
    got = _received(sent)
    sig = httpsig.parse_signature(got["signature"])
    assert sig.key_id == KEY_ID
    assert sig.headers == ("(request-target)", "host", "date", "digest")
    assert got["host"] == "remote.example"
    assert httpsig.verify(
        sig, method="POST", path="/users/alice/inbox", headers=got, public_key_pem=public
    )
    httpsig.check_digest(got, body)
    httpsig.check_date(got, NOW + 60)


def test_get_round_trip_with_port_and_query(pair: tuple[str, str]) -> None:
    """A signed GET covers target (with the query) and the host with its port."""
    public, private = pair
    sent = httpsig.sign_headers(
        "GET",
        "http://127.0.0.2:8080/objects/1?page=2",
        key_id=KEY_ID,
        private_key_pem=private,
        now=NOW,
    )
    got = _received(sent)
    assert got["host"] == "127.0.0.2:8080"
    assert "digest" not in got
    assert _check(got["signature"], public, method="GET", path="/objects/1?page=2", **got)


def test_hs2019_with_an_rsa_key(pair: tuple[str, str]) -> None:
    """algorithm="hs2019" (what Mastodon sends) with an RSA key verifies like rsa-sha256."""
    public, private = pair
    got = _received(
        httpsig.sign_headers("GET", URL, key_id=KEY_ID, private_key_pem=private, now=NOW)
    )
    value = got["signature"].replace('algorithm="rsa-sha256"', 'algorithm="hs2019"')
    assert httpsig.parse_signature(value).algorithm == "hs2019"
    assert _check(value, public, method="GET", **got)


@pytest.mark.parametrize(
    "change",
    [
        {"path": "/users/mallory/inbox"},
        {"method": "PUT"},
        {"host": "other.example"},
        {"date": "Thu, 15 Jan 2027 08:00:00 GMT"},
        {"digest": httpsig.digest(b"another body")},
    ],
)
def test_tampered_request_does_not_verify(pair: tuple[str, str], change: dict[str, str]) -> None:
    """Changing the target, method, host, date or digest after signing breaks the signature."""
    public, private = pair
    got = _received(
        httpsig.sign_headers(
            "POST", URL, key_id=KEY_ID, private_key_pem=private, now=NOW, body=b"{}"
        )
    )
    request = {"method": "POST", "path": "/users/alice/inbox", **got} | change
    assert not _check(request.pop("signature"), public, **request)


def test_tampered_body_fails_the_digest(pair: tuple[str, str]) -> None:
    """A body other than the signed one is caught by the Digest check."""
    _public, private = pair
    got = _received(
        httpsig.sign_headers(
            "POST", URL, key_id=KEY_ID, private_key_pem=private, now=NOW, body=b"{}"
        )
    )
    with pytest.raises(SignatureError, match="does not match"):
        httpsig.check_digest(got, b'{"evil": true}')


def test_another_key_does_not_verify(pair: tuple[str, str]) -> None:
    """A signature checked against a key other than the signer's fails."""
    _public, private = pair
    got = _received(
        httpsig.sign_headers("GET", URL, key_id=KEY_ID, private_key_pem=private, now=NOW)
    )
    assert not _check(got["signature"], DRAFT_PUBLIC_KEY, method="GET", **got)


def test_missing_signed_header(pair: tuple[str, str]) -> None:
    """A signature naming a header the request lacks is refused."""
    public, private = pair
    got = _received(
        httpsig.sign_headers("GET", URL, key_id=KEY_ID, private_key_pem=private, now=NOW)
    )
    del got["date"]
    with pytest.raises(SignatureError, match="date is missing"):
        _check(got.pop("signature"), public, method="GET", **got)


def test_created_stands_in_for_date(pair: tuple[str, str]) -> None:
    """A signature may cover (created) instead of Date; the request's age then comes from it."""
    sig = httpsig.Signature(
        key_id="k",
        algorithm="hs2019",
        headers=("(request-target)", "host", "(created)"),
        signature=b"x",
        created=int(NOW),
    )
    httpsig.check_date({}, NOW + 10, signature=sig)
    with pytest.raises(SignatureError, match="window"):
        httpsig.check_date({}, NOW + 13 * 3600, signature=sig)
    with pytest.raises(SignatureError, match="expired"):
        httpsig.check_date({}, NOW + 10, signature=dataclasses.replace(sig, expires=int(NOW) + 5))
    with pytest.raises(SignatureError, match="has no created"):
        httpsig.verify(
            dataclasses.replace(sig, created=None),
            method="GET",
            path="/",
            headers={"host": "h"},
            public_key_pem=DRAFT_PUBLIC_KEY,
        )


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", "no keyId"),
        ("garbage", "malformed"),
        ('keyId="a",,signature="eA=="', "malformed"),
        ('signature="eA=="', "no keyId"),
        ('keyId="a",signature="not base64!"', "not base64"),
        ('keyId="a",headers="date"', "no signature"),
        ('keyId="a",algorithm="hmac-sha256",signature="eA=="', "unsupported"),
        ('keyId="a",keyId="b",signature="eA=="', "twice"),
        ('keyId="a",headers="",signature="eA=="', "no headers"),
    ],
)
def test_unreadable_signature_header(value: str, reason: str) -> None:
    """A Signature header that cannot be read says why."""
    with pytest.raises(SignatureError, match=reason):
        httpsig.parse_signature(value)


def test_authorization_form_and_numbers() -> None:
    """The `Authorization: Signature ...` form and numeric created/expires parse."""
    sig = httpsig.parse_signature(
        'Signature keyId="k", algorithm="hs2019", created=1402170695, '
        'headers="(request-target) (created)", signature="eA=="'
    )
    assert (sig.key_id, sig.created, sig.expires, sig.signature) == ("k", 1402170695, None, b"x")


@pytest.mark.parametrize(
    "date, ok",
    [
        ("Fri, 15 Jan 2027 08:00:00 GMT", True),
        (None, False),
        ("yesterday", False),
    ],
)
def test_date_must_be_readable(date: str | None, ok: bool) -> None:
    """A request without a readable Date is refused."""
    now = calendar.timegm((2027, 1, 15, 8, 0, 0))
    headers = {} if date is None else {"date": date}
    if ok:
        httpsig.check_date(headers, now)
    else:
        with pytest.raises(SignatureError):
            httpsig.check_date(headers, now)


@pytest.mark.parametrize("sign", [-1, 1])
def test_date_window(sign: int) -> None:
    """A Date up to twelve hours away from now, either way, is accepted; further is refused."""
    now = calendar.timegm((2027, 1, 15, 8, 0, 0))
    headers = {"date": "Fri, 15 Jan 2027 08:00:00 GMT"}
    httpsig.check_date(headers, now + sign * 12 * 3600)
    with pytest.raises(SignatureError, match="window"):
        httpsig.check_date(headers, now + sign * (12 * 3600 + 1))


def test_digest_forms() -> None:
    """Digest: several algorithms may be listed; SHA-256 must be among them and match."""
    body = b"hello"
    sha = httpsig.digest(body)
    httpsig.check_digest({"digest": f"MD5=XUFAKrxLKna5cZ2REBfFkg==, {sha}"}, body)
    httpsig.check_digest({"digest": sha.replace("SHA-256", "sha-256")}, body)
    with pytest.raises(SignatureError, match="no Digest"):
        httpsig.check_digest({}, body)
    with pytest.raises(SignatureError, match="no SHA-256"):
        httpsig.check_digest({"digest": "MD5=XUFAKrxLKna5cZ2REBfFkg=="}, body)


def test_only_rsa_public_keys(pair: tuple[str, str]) -> None:
    """A key that is not RSA, or not a key, is refused rather than tried."""
    _public, private = pair
    got = _received(
        httpsig.sign_headers("GET", URL, key_id=KEY_ID, private_key_pem=private, now=NOW)
    )
    ed = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(SignatureError, match="not an RSA key"):
        _check(got["signature"], ed, method="GET", **got)
    with pytest.raises(SignatureError, match="unreadable public key"):
        _check(got["signature"], "not a key", method="GET", **got)


def test_parsed_keys_are_cached(pair: tuple[str, str]) -> None:
    """Verifying twice with one key parses it once."""
    public, private = pair
    got = _received(
        httpsig.sign_headers("GET", URL, key_id=KEY_ID, private_key_pem=private, now=NOW)
    )
    assert _check(got["signature"], public, method="GET", **got)
    hits = httpsig._public_key.cache_info().hits
    assert _check(got["signature"], public, method="GET", **got)
    assert httpsig._public_key.cache_info().hits == hits + 1
