"""WebFinger (JRD and XRD), host-meta and NodeInfo documents.

Shapes are Pleroma's: the JRD links the profile page, the actor (as
``application/activity+json`` and as ActivityStreams JSON-LD) and the
remote-follow template; NodeInfo 2.0 and 2.1 differ only in ``version`` and
the software's ``repository``/``homepage``, which 2.0's schema forbids.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pleromad import __version__
from pleromad.config import Config
from pleromad.model import Usage

PROFILE_PAGE = "http://webfinger.net/rel/profile-page"
SUBSCRIBE = "http://ostatus.org/schema/1.0/subscribe"
AS_JSONLD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
XRD_NAMESPACE = "http://docs.oasis-open.org/ns/xri/xrd-1.0"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"
NODEINFO_VERSIONS = ("2.0", "2.1")
SOFTWARE = "pleromad"

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


@functools.cache
def project_urls() -> dict[str, str]:
    """NodeInfo 2.1's ``repository`` and ``homepage``: the package's home
    page as its metadata gives it (``url`` in setup.cfg); none when unset."""
    try:
        # An email Message underneath; typeshed lists get() only from Python 3.12 on
        home = importlib.metadata.metadata(SOFTWARE).get("Home-page")  # type: ignore[attr-defined]
    except importlib.metadata.PackageNotFoundError:
        return {}
    return {"repository": home, "homepage": home} if home else {}


def _links(actor_id: str, base_url: str) -> list[dict[str, str]]:
    return [
        {"rel": PROFILE_PAGE, "type": "text/html", "href": actor_id},
        {"rel": "self", "type": "application/activity+json", "href": actor_id},
        {"rel": "self", "type": AS_JSONLD, "href": actor_id},
        {"rel": SUBSCRIBE, "template": f"{base_url}/ostatus_subscribe?acct={{uri}}"},
    ]


def render_jrd(acct: str, actor_id: str, base_url: str) -> dict[str, Any]:
    """The JRD (RFC 7033) of the account ``acct`` whose actor is ``actor_id``."""
    return {"subject": acct, "aliases": [actor_id], "links": _links(actor_id, base_url)}


def render_xrd(acct: str, actor_id: str, base_url: str) -> bytes:
    """The same as :func:`render_jrd`, as an XRD document."""
    links = "".join(
        "<Link" + "".join(f" {name}={quoteattr(value)}" for name, value in link.items()) + "/>"
        for link in _links(actor_id, base_url)
    )
    return (
        f'{_XML_DECLARATION}<XRD xmlns="{XRD_NAMESPACE}"><Subject>{escape(acct)}</Subject>'
        f"<Alias>{escape(actor_id)}</Alias>{links}</XRD>"
    ).encode()


def render_host_meta(base_url: str) -> bytes:
    """host-meta (RFC 6415): where WebFinger is, as an ``lrdd`` template."""
    template = quoteattr(f"{base_url}/.well-known/webfinger?resource={{uri}}")
    return (
        f'{_XML_DECLARATION}<XRD xmlns="{XRD_NAMESPACE}">'
        f'<Link rel="lrdd" type="application/xrd+xml" template={template}/></XRD>'
    ).encode()


def render_nodeinfo_links(base_url: str) -> dict[str, Any]:
    return {
        "links": [
            {"rel": NODEINFO_SCHEMA + version, "href": f"{base_url}/nodeinfo/{version}"}
            for version in NODEINFO_VERSIONS
        ]
    }


def nodeinfo_content_type(version: str) -> str:
    return f"application/json; profile={NODEINFO_SCHEMA}{version}#"


def render_nodeinfo(
    version: str,
    config: Config,
    *,
    usage: Usage,
    staff: Sequence[str],
    features: Sequence[str],
    post_formats: Sequence[str],
) -> dict[str, Any]:
    """NodeInfo ``version`` (2.0 or 2.1) with Pleroma's ``metadata``;
    ``features`` are those this daemon serves, ``post_formats`` the content
    types statuses may be written in."""
    instance = config.instance
    federation = config.federation
    software: dict[str, str] = {"name": SOFTWARE, "version": __version__}
    if version != "2.0":
        software |= project_urls()
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": instance.registrations_open,
        "usage": {
            "users": {
                "total": usage.users,
                "activeMonth": usage.active_month,
                "activeHalfyear": usage.active_halfyear,
            },
            "localPosts": usage.local_posts,
        },
        "metadata": {
            "nodeName": instance.name,
            "nodeDescription": instance.description,
            "private": False,
            "staffAccounts": list(staff),
            "features": list(features),
            "federation": {
                "enabled": federation.enabled,
                "exclusions": False,
                "mrf_policies": ["SimplePolicy"] if federation.blocked_instances else [],
                "mrf_simple": {"reject": list(federation.blocked_instances)},
                "quarantined_instances": list(federation.quarantined_instances),
            },
            "postFormats": list(post_formats),
            "uploadLimits": {
                "general": instance.upload_limit,
                "avatar": instance.avatar_upload_limit,
                "banner": instance.banner_upload_limit,
                "background": instance.background_upload_limit,
            },
            "accountActivationRequired": instance.account_activation_required,
            "invitesEnabled": instance.invites_enabled,
            "restrictedNicknames": list(instance.reserved_nicknames),
            "skipThreadContainment": True,
        },
    }
