"""How other servers find this one and its accounts: WebFinger and NodeInfo.

WebFinger answers ``acct:nick@host`` (host being ``[server] base_url``'s
host with its port, if any) and the actor URL itself, for local accounts in
use and for the instance actor.  NodeInfo's usage counts an account as
active in a window when it posted or logged in (was given an OAuth token)
within it; Pleroma counts its ``last_active_at``, which pleromad does not keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from pleromad.db.pool import Txn
from pleromad.errors import ApiError, BadRequest
from pleromad.model import Usage
from pleromad.store import objects, users
from pleromad.views.activitypub import INSTANCE_ACTOR_NICKNAME, instance_actor_id

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

MONTH = 30 * 86400
HALF_YEAR = 180 * 86400


class UnknownResource(ApiError):
    status = 404

    def __init__(self) -> None:
        super().__init__("Couldn't find user")


@dataclass(frozen=True)
class Subject:
    """Who a WebFinger resource names: its ``acct:`` URI and actor id."""

    acct: str
    actor_id: str


def webfinger_host(base_url: str) -> str:
    """The host of ``acct:`` URIs: base_url's, with its port when it has one."""
    return urlsplit(base_url).netloc.lower()


def _nickname(resource: str, base_url: str) -> str | None:
    """The local nickname ``resource`` names (``acct:nick@host``, ``nick@host``
    or an actor URL of ours); None when it names nothing here."""
    if resource.startswith(base_url + "/users/"):
        nickname = unquote(resource[len(base_url) + len("/users/") :])
        return nickname if nickname and "/" not in nickname else None
    if resource == instance_actor_id(base_url):
        return INSTANCE_ACTOR_NICKNAME
    nick, at, host = resource.removeprefix("acct:").removeprefix("@").rpartition("@")
    if not at or not nick or host.lower() != webfinger_host(base_url):
        return None
    return nick


async def find_subject(rt: Runtime, resource: str) -> Subject:
    """The account or instance actor ``resource`` names; BadRequest for a
    resource that is no URI at all, UnknownResource when it names no one
    here (remote, deleted and deactivated accounts included)."""
    resource = resource.strip()
    if not resource or any(c.isspace() for c in resource):
        raise BadRequest("Bad resource")
    base_url = rt.config.server.base_url
    nickname = _nickname(resource, base_url)
    if nickname is None:
        raise UnknownResource()
    host = webfinger_host(base_url)
    if nickname == INSTANCE_ACTOR_NICKNAME:
        return Subject(f"acct:{nickname}@{host}", instance_actor_id(base_url))
    user = await rt.db.run_interaction("webfinger user", users.get_user_by_nickname_txn, nickname)
    if user is None or not user.local or user.deleted or user.deactivated:
        raise UnknownResource()
    if user.confirmation_pending and rt.config.instance.account_activation_required:
        raise UnknownResource()
    return Subject(f"acct:{user.nickname}@{host}", user.ap_id)


@dataclass(frozen=True)
class Figures:
    usage: Usage
    staff: list[str]


async def nodeinfo_figures(rt: Runtime) -> Figures:
    """What NodeInfo counts, now."""
    now = rt.clock.seconds()
    return await rt.db.run_interaction("nodeinfo", _figures_txn, now - MONTH, now - HALF_YEAR)


async def _figures_txn(txn: Txn, month_ago: float, halfyear_ago: float) -> Figures:
    usage = await objects.usage_txn(txn, month_ago, halfyear_ago)
    return Figures(usage, await objects.staff_ids_txn(txn))
