"""The Admin API's rules: who is an admin, and what an admin may change.

Every change reuses the operator's own operations (:mod:`pleromad.domain.lifecycle`,
invites, password reset links) and writes one audit line: who did what to whom.
Errors follow DECISIONS 6 and 23: an unknown nickname is 404 ``Record not
found``, a malformed parameter 400, and nothing changes on either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import lifecycle, password_reset, relationships
from pleromad.domain import statuses as status_rules
from pleromad.errors import ApiError, BadRequest, Forbidden, NotFound
from pleromad.ids import BIGINT_MAX, parse_id
from pleromad.mail.outbox import compose, enqueue_mail_txn
from pleromad.model import Invite, Loaded, LogEntry, User
from pleromad.store import invites, loader, moderation, users

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

log = Logger(namespace="pleromad.admin")

NOT_ADMIN = "User is not admin."
NOT_STAFF = "User is not a staff member."
NO_SUCH_GROUP = "No such permission_group"
OWN_ADMIN_STATUS = "You can't revoke your own admin status."
GROUPS = ("admin", "moderator")
FILTERS = frozenset({"local", "external", "active", "deactivated", "is_admin", "is_moderator"})
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def _entry(
    admin: User, action: str, target: str, about_user: bool, details: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The log entry's data and its sentence: ``@admin <action> <target>``
    and the details, or ``@admin <says>`` when the details hold ``says``."""
    says = details.get("says")
    if says is None:
        shown = f"@{target}" if about_user else target
        extra = "".join(f", {k}: {v}" for k, v in sorted(details.items()) if v is not None)
        says = f"{action} {shown}{extra}"
    data = {
        "actor": {"id": str(admin.id), "nickname": admin.nickname, "type": "user"},
        "action": action,
        "subject": target,
        **{k: v for k, v in details.items() if k != "says"},
    }
    return data, f"@{admin.nickname} {says}"


async def audit_txn(
    txn: Txn, /, admin: User, action: str, target: str, *, about_user: bool = True, **details: Any
) -> None:
    """Keep an admin action in the moderation log, inside the transaction
    that makes it, and write its log line: who did what to whom (and how)."""
    data, message = _entry(admin, action, target, about_user, details)
    await moderation.log_txn(txn, admin.id, data, message)
    extra = "".join(f" {k}={v!r}" for k, v in sorted(details.items()) if k != "says")
    log.info(
        "admin {admin} {action} {target}{extra}",
        admin=admin.nickname,
        action=action,
        target=target,
        extra=extra,
        admin_id=admin.id,
        admin_action=action,
    )


async def audit(
    rt: Runtime, admin: User, action: str, target: str, *, about_user: bool = True, **details: Any
) -> None:
    """:func:`audit_txn` for an action another module carried out."""
    await rt.db.run_interaction(
        "moderation log", audit_txn, admin, action, target, about_user=about_user, **details
    )


def require_admin(user: User) -> None:
    """403 ``User is not admin.`` unless ``user`` is an admin: moderators
    only get in where :func:`require_staff` admits them."""
    if not user.is_admin:
        raise Forbidden(NOT_ADMIN)


@dataclass(frozen=True)
class LogSearch:
    """What the moderation log is narrowed by."""

    actor_id: int | None = None
    search: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def parse_moment(text: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or date-time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid value for {name}: expected an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def moderation_log(
    rt: Runtime, search: LogSearch, page: int, page_size: int
) -> tuple[list[LogEntry], int]:
    return await rt.db.run_interaction(
        "moderation log",
        moderation.list_log_txn,
        actor_id=search.actor_id,
        search=search.search,
        start=search.start,
        end=search.end,
        limit=page_size,
        offset=min((page - 1) * page_size, BIGINT_MAX),
    )


def require_staff(user: User) -> None:
    """403 ``User is not a staff member.`` unless ``user`` is an admin or a
    moderator: reports, status moderation and the moderation log, which the
    reference's default privileges leave to moderators too."""
    if not (user.is_admin or user.is_moderator):
        raise Forbidden(NOT_STAFF)


# -- users -----------------------------------------------------------------------


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    count: int
    page_size: int


def page_args(page: int | None, page_size: int | None) -> tuple[int, int]:
    """Validated (page, page_size): page >= 1, 1 <= page_size <= MAX_PAGE_SIZE."""
    page = 1 if page is None else page
    page_size = DEFAULT_PAGE_SIZE if page_size is None else page_size
    if page < 1:
        raise BadRequest("Invalid value for page: must be at least 1")
    if page_size < 1:
        raise BadRequest("Invalid value for page_size: must be at least 1")
    return page, min(page_size, MAX_PAGE_SIZE)


def parse_filters(text: str | None) -> frozenset[str]:
    """The comma list of filters; a name we do not know is a 400 (the
    reference ignores it, which silently lists everyone)."""
    if not text:
        return frozenset()
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(names - FILTERS)
    if unknown:
        raise BadRequest(f"Invalid value for filters: unknown filter {unknown[0]}")
    return names


@dataclass(frozen=True)
class UserSearch:
    """What the user list is narrowed by (see ``users.admin_list_users_txn``)."""

    query: str | None = None
    filters: frozenset[str] = frozenset()
    name: str | None = None
    email: str | None = None
    tags: tuple[str, ...] = ()


async def list_users(rt: Runtime, search: UserSearch, page: int, page_size: int) -> UserPage:
    found, count = await rt.db.run_interaction(
        "admin list users",
        users.admin_list_users_txn,
        query=search.query,
        filters=search.filters,
        name=search.name,
        email=search.email,
        tags=search.tags,
        limit=page_size,
        offset=min((page - 1) * page_size, BIGINT_MAX),  # far beyond any page: empty
    )
    return UserPage(found, count, page_size)


async def find_user(rt: Runtime, nickname: str) -> User:
    """The (not deleted) account called ``nickname`` (or with that id), or 404."""
    user = await rt.db.run_interaction("admin find user", users.get_user_by_nickname_txn, nickname)
    if user is None and nickname.isascii() and nickname.isdigit() and len(nickname) < 19:
        user = await rt.db.run_interaction("admin find user", users.get_user_txn, int(nickname))
    if user is None or user.deleted:
        raise NotFound()
    return user


async def find_users(rt: Runtime, nicknames: Sequence[str]) -> list[User]:
    """Every named account, or 404 before anything changes."""
    if not nicknames:
        raise BadRequest("Missing field: nicknames")
    return [await find_user(rt, nickname) for nickname in nicknames]


async def create_users(
    rt: Runtime, admin: User, accounts: Sequence[lifecycle.NewAccount]
) -> list[User]:
    """Confirmed local accounts; every one is checked before any is created,
    so one bad entry creates none (400 naming it)."""
    if not accounts:
        raise BadRequest("Missing field: users")
    seen: set[str] = set()
    for account in accounts:
        problem = lifecycle.account_problem(rt.config, account)
        if problem is None and not account.password:
            problem = "password can't be blank"
        if problem is None and account.nickname.lower() in seen:
            problem = "nickname appears twice"
        if problem is not None:
            raise BadRequest(f"{account.nickname}: {problem}")
        seen.add(account.nickname.lower())
        taken = await rt.db.run_interaction(
            "admin check taken",
            users.nickname_or_email_taken_txn,
            account.nickname,
            account.email,
        )
        if any(taken):
            raise ApiError(
                f"{account.nickname}: the nickname or the e-mail address is already taken",
                status=409,
            )
    created = []
    for account in accounts:
        try:
            user = await lifecycle.create_account(rt, account)
        except lifecycle.AccountRefused as refused:
            raise ApiError(f"{account.nickname}: {refused}", status=409) from None
        await audit(rt, admin, "created", user.nickname)
        created.append(user)
    return created


async def delete_user(rt: Runtime, admin: User, nickname: str) -> User:
    user = await find_user(rt, nickname)
    await lifecycle.delete_account(rt, user.id)
    await audit(rt, admin, "deleted", user.nickname)
    return user


async def toggle_activation(rt: Runtime, admin: User, nickname: str) -> User:
    user = await find_user(rt, nickname)
    updated = await lifecycle.set_activated(rt, user.id, user.deactivated)
    if updated is None:
        raise NotFound()
    await audit(rt, admin, "activated" if not updated.deactivated else "deactivated", user.nickname)
    return updated


async def set_activation(
    rt: Runtime, admin: User, nicknames: Sequence[str], active: bool
) -> list[User]:
    """Activate or deactivate every named account (all are looked up first)."""
    targets = await find_users(rt, nicknames)
    updated = []
    for user in targets:
        result = await lifecycle.set_activated(rt, user.id, active)
        if result is None:
            raise NotFound()
        await audit(rt, admin, "activated" if active else "deactivated", user.nickname)
        updated.append(result)
    return updated


async def force_password_reset(rt: Runtime, admin: User, nicknames: Sequence[str]) -> None:
    """Every named local account must reset its password (through a reset
    link) before it can log in or use its tokens again."""
    targets = await find_users(rt, nicknames)
    if any(not user.local for user in targets):
        raise BadRequest("Invalid value for nicknames: a remote account has no password")
    await rt.db.run_interaction("force password reset", _force_reset_txn, admin, targets)


async def _force_reset_txn(txn: Txn, admin: User, targets: list[User]) -> None:
    for user in targets:
        await users.update_user_txn(txn, user.id, password_reset_pending=True)
        await audit_txn(txn, admin, "forced a password reset for", user.nickname)


async def force_follow(
    rt: Runtime, admin: User, follower_ref: str, followed_ref: str, follow: bool
) -> None:
    """Make one account follow (or stop following) another, as if it had
    asked to itself."""
    follower = await find_user(rt, follower_ref)
    followed = await find_user(rt, followed_ref)
    if follower.id == followed.id:
        raise BadRequest("Invalid value for followed: an account cannot follow itself")
    if follow:
        await relationships.follow(rt, follower, str(followed.id), None)
    else:
        await relationships.unfollow(rt, follower, str(followed.id))
    verb = "follow" if follow else "unfollow"
    await audit(
        rt,
        admin,
        verb,
        follower.nickname,
        followed=followed.nickname,
        says=f"made @{follower.nickname} {verb} @{followed.nickname}",
    )


async def user_statuses(
    rt: Runtime, nickname: str, page_size: int, godmode: bool, with_reblogs: bool
) -> Loaded:
    """The newest statuses of an account, public and unlisted ones only
    unless ``godmode``."""
    user = await find_user(rt, nickname)
    return await rt.db.run_interaction(
        "admin user statuses",
        _statuses_txn,
        dict(
            account_id=user.id,
            local_only=False,
            godmode=godmode,
            with_reblogs=with_reblogs,
            limit=page_size,
            offset=0,
        ),
    )


async def list_statuses(
    rt: Runtime, page: int, page_size: int, local_only: bool, godmode: bool, with_reblogs: bool
) -> Loaded:
    """A page of every account's statuses, newest first."""
    return await rt.db.run_interaction(
        "admin statuses",
        _statuses_txn,
        dict(
            account_id=None,
            local_only=local_only,
            godmode=godmode,
            with_reblogs=with_reblogs,
            limit=page_size,
            offset=min((page - 1) * page_size, BIGINT_MAX),
        ),
    )


async def _statuses_txn(txn: Txn, query: dict[str, Any]) -> Loaded:
    ids = await moderation.statuses_txn(txn, **query)
    return await loader.load_txn(txn, ids, None, godmode=True)


def _status_id(ref: str) -> int:
    value = parse_id(ref)
    if value is None:
        raise NotFound()
    return value


async def get_status(rt: Runtime, ref: str) -> Loaded:
    """Any status, whoever may see it (404 if there is none)."""
    loaded = await rt.db.run_interaction(
        "admin status", loader.load_txn, [_status_id(ref)], None, godmode=True
    )
    if not loaded.order:
        raise NotFound()
    return loaded


async def update_status(
    rt: Runtime, admin: User, ref: str, sensitive: bool | None, visibility: str | None
) -> Loaded:
    """Mark a post sensitive (or not) and change who may see it."""
    if visibility is not None and visibility not in moderation.VISIBILITIES:
        raise BadRequest(
            f"Invalid value for visibility: expected one of {', '.join(moderation.VISIBILITIES)}"
        )
    return await rt.db.run_interaction(
        "admin update status", _update_status_txn, admin, _status_id(ref), sensitive, visibility
    )


async def _update_status_txn(
    txn: Txn, admin: User, wanted: int, sensitive: bool | None, visibility: str | None
) -> Loaded:
    if not await moderation.set_status_flags_txn(txn, wanted, sensitive, visibility):
        raise NotFound()
    changes = [
        f"{name}: '{str(value).lower()}'"
        for name, value in (("sensitive", sensitive), ("visibility", visibility))
        if value is not None
    ]
    await audit_txn(
        txn,
        admin,
        "status_update",
        str(wanted),
        about_user=False,
        sensitive=sensitive,
        visibility=visibility,
        says=f"updated status ID {wanted}" + (", set " + ", ".join(changes) if changes else ""),
    )
    return await loader.load_txn(txn, [wanted], None, godmode=True)


async def delete_status(rt: Runtime, admin: User, ref: str) -> None:
    """Delete any status, as its author deleting it would (federated alike)."""
    await status_rules.delete_status(rt, str(_status_id(ref)), admin, godmode=True)
    await audit(rt, admin, "status_delete", ref, about_user=False, says=f"deleted status ID {ref}")


async def stats(rt: Runtime) -> dict[str, Any]:
    return await rt.db.run_interaction("admin stats", moderation.stats_txn)


def clean_tags(tags: Sequence[str]) -> list[str]:
    cleaned = [tag.strip().lower() for tag in tags]
    if not cleaned or any(not tag for tag in cleaned):
        raise BadRequest("Invalid value for tags: expected non-empty strings")
    return cleaned


async def change_tags(
    rt: Runtime, admin: User, nicknames: Sequence[str], tags: Sequence[str], add: bool
) -> None:
    """Add (deduplicated) or remove lower-cased tags on every named account."""
    wanted = clean_tags(tags)
    targets = await find_users(rt, nicknames)
    await rt.db.run_interaction(
        "admin tags", _change_tags_txn, [u.id for u in targets], wanted, add
    )
    for user in targets:
        await audit(rt, admin, "tagged" if add else "untagged", user.nickname, tags=wanted)


async def _change_tags_txn(txn: Txn, user_ids: list[int], tags: list[str], add: bool) -> None:
    for user_id in user_ids:
        user = await users.get_user_for_update_txn(txn, user_id)
        if user is None:
            continue
        if add:
            new = list(user.tags) + [t for t in dict.fromkeys(tags) if t not in user.tags]
        else:
            new = [t for t in user.tags if t not in tags]
        await users.update_user_txn(txn, user_id, tags=new)


def check_group(group: str) -> str:
    if group not in GROUPS:
        raise NotFound(NO_SUCH_GROUP)
    return group


async def set_group(
    rt: Runtime, admin: User, nicknames: Sequence[str], group: str, granted: bool
) -> list[User]:
    """Grant or revoke ``admin``/``moderator``; an admin may not revoke
    either group from themself (403)."""
    check_group(group)
    targets = await find_users(rt, nicknames)
    if not granted and any(u.id == admin.id for u in targets):
        raise Forbidden(OWN_ADMIN_STATUS)
    updated = []
    for user in targets:
        result = await lifecycle.update_flags(rt, user.id, **{f"is_{group}": granted})
        if result is None:
            raise NotFound()
        await audit(rt, admin, "granted" if granted else "revoked", user.nickname, group=group)
        updated.append(result)
    return updated


# -- invites and password resets ---------------------------------------------------


def parse_max_use(value: int | None) -> int | None:
    if value is not None and not invites.valid_max_use(value):
        raise BadRequest(
            f"Invalid value for max_use: must be an integer from 1 to {invites.MAX_USE_LIMIT}"
        )
    return value


def parse_expires_at(text: str | None, today: date) -> date | None:
    if text is None or text == "":
        return None
    try:
        return invites.parse_expiry(text, today)
    except invites.BadExpiry as bad:
        if bad.past:
            raise BadRequest("Invalid value for expires_at: the date is in the past") from None
        raise BadRequest("Invalid value for expires_at: expected a date YYYY-MM-DD") from None


def today(rt: Runtime) -> date:
    return datetime.fromtimestamp(rt.clock.seconds(), UTC).date()


async def create_invite(
    rt: Runtime, admin: User, max_use: int | None, expires_at: date | None
) -> Invite:
    invite = await rt.db.run_interaction(
        "admin create invite", invites.create_invite_txn, max_use=max_use, expires_at=expires_at
    )
    await audit(
        rt,
        admin,
        "created invite",
        invite.token,
        about_user=False,
        max_use=max_use,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return invite


async def list_invites(rt: Runtime) -> list[Invite]:
    return await rt.db.run_interaction("admin list invites", invites.list_invites_txn)


async def revoke_invite(rt: Runtime, admin: User, token: str) -> Invite:
    invite = await rt.db.run_interaction("admin revoke invite", invites.revoke_invite_txn, token)
    if invite is None:
        raise NotFound()
    await audit(rt, admin, "revoked invite", token, about_user=False)
    return invite


INVITES_DISABLED = "Invites are disabled"
DELIVERIES_DISABLED = "deliveries_disabled"


async def email_invite(rt: Runtime, admin: User, email: str, name: str | None) -> Invite:
    """Create a one-time invite and queue a mail with its registration link.

    Only when invites are enabled and registrations closed (400 otherwise),
    and only with a mail backend (400 ``deliveries_disabled``)."""
    instance = rt.config.instance
    if not instance.invites_enabled or instance.registrations_open:
        raise BadRequest(INVITES_DISABLED)
    if rt.config.mail.backend == "none":
        raise BadRequest(DELIVERIES_DISABLED)
    # Compose once before any change: a bad address is a 400 with nothing created.
    try:
        compose(rt.config, name or email, email, "check", "check", now=rt.clock.seconds())
    except ValueError:
        raise BadRequest("Invalid value for email: not an e-mail address") from None
    invite = await rt.db.run_interaction(
        "admin email invite", _email_invite_txn, rt.config, email, name, rt.clock.seconds()
    )
    await audit(rt, admin, "e-mailed invite", email, about_user=False, token=invite.token)
    return invite


async def _email_invite_txn(
    txn: Txn, config: Config, email: str, name: str | None, now: float
) -> Invite:
    invite = await invites.create_invite_txn(txn)
    url = f"{config.server.base_url}/registration/{invite.token}"
    instance_name = config.instance.name
    greeting = f"{name}, you" if name else "You"
    text = f"{greeting} are invited to {instance_name}.\n\nRegister an account here:\n{url}\n"
    message = compose(config, name or email, email, f"Invitation to {instance_name}", text, now=now)
    await enqueue_mail_txn(txn, message)
    return invite


async def password_reset_link(rt: Runtime, admin: User, nickname: str) -> str:
    """A reset link for a local account (404 for unknown or remote ones)."""
    user = await find_user(rt, nickname)
    if not user.local:
        raise NotFound()
    link = await password_reset.create_reset_link(rt, user)
    await audit(rt, admin, "created password reset link for", user.nickname)
    return link
