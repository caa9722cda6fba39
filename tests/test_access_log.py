"""Access-log lines never carry the secrets a request carried."""

from __future__ import annotations

from pathlib import Path

import pytest
import treq
from twisted.internet import reactor

from pleromad.runtime import Runtime
from pleromad.web.access_log import redact
from pleromad.web.root import build_gateway
from pleromad.web.site import PleromadSite, body_limit


@pytest.mark.parametrize(
    ("uri", "logged"),
    [
        (b"/api/v1/timelines/home?access_token=s3cret&limit=5",
         b"/api/v1/timelines/home?access_token=[FILTERED]&limit=5"),
        (b"/oauth/token?grant_type=authorization_code&code=abc&client_secret=xyz",
         b"/oauth/token?grant_type=authorization_code&code=[FILTERED]&client_secret=[FILTERED]"),
        (b"/api/account/register?password=hunter2&nickname=al",
         b"/api/account/register?password=[FILTERED]&nickname=al"),
        (b"/api/pleroma/password_reset?data[password]=x&data[token]=t",
         b"/api/pleroma/password_reset?data[password]=[FILTERED]&data[token]=[FILTERED]"),
        (b"/api/pleroma/password_reset/Zm9vYmFy", b"/api/pleroma/password_reset/[FILTERED]"),
        (b"/api/account/confirm_email/123/t0k3n", b"/api/account/confirm_email/123/[FILTERED]"),
        (b"/api/v1/statuses?limit=20", b"/api/v1/statuses?limit=20"),
        (b"/api/v1/instance", b"/api/v1/instance"),
    ],
)  # fmt: skip
def test_secrets_are_filtered_from_uris(uri: bytes, logged: bytes) -> None:
    """Tokens, codes, passwords and client secrets in query strings, and the
    tokens of e-mailed links, are replaced; everything else is kept."""
    assert redact(uri) == logged


@pytest.mark.usefixtures("db")
async def test_the_daemon_logs_no_token(rt: Runtime, tmp_path: Path) -> None:
    """A request with ?access_token= is logged, without the token, by the real site."""
    log_path = tmp_path / "access.log"
    site = PleromadSite(
        build_gateway(rt), body_limit(rt.config.instance.upload_limit), logPath=str(log_path)
    )
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        base = f"http://127.0.0.1:{port.getHost().port}"
        response = await treq.get(
            f"{base}/api/v1/instance?access_token=SECRETVALUE",
            headers={"Referer": f"{base}/oauth/authorize?code=OTHERSECRET"},
        )
        await treq.content(response)
    finally:
        await port.stopListening()
    text = log_path.read_text()
    assert "/api/v1/instance?access_token=[FILTERED]" in text
    assert "SECRETVALUE" not in text and "OTHERSECRET" not in text
