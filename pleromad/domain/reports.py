"""Reports: an account tells the moderators about another account and some
of its statuses; moderators and admins list them, change their state and
keep notes on them.

A reported status is kept as it was rendered when it was reported, so that
its author deleting or editing it hides nothing from the moderators.  The
reporter learns only what it sent (Mastodon's Report entity), never who
handles it or how.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pleromad.db.pool import Txn
from pleromad.domain import delivery
from pleromad.domain.admin import audit_txn, require_staff
from pleromad.domain.outgoing import new_activity_id
from pleromad.errors import ApiError, BadRequest, NotFound
from pleromad.ids import BIGINT_MAX, parse_id
from pleromad.model import Loaded, Note, Report, ShownReport, User
from pleromad.store import loader
from pleromad.store import remote_actors as actors_store
from pleromad.store import reports as store
from pleromad.store import statuses as statuses_store
from pleromad.store import users as users_store
from pleromad.views.activitypub import build_flag, instance_actor_id
from pleromad.views.statuses import render_statuses

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

CATEGORIES = ("spam", "legal", "violation", "other")
COMMENT_MAX = 1000
REPORT_CLOSED = "The report is closed"


class Invalid(ApiError):
    """Mastodon's answer to a report it will not file."""

    status = 422


@dataclass(frozen=True)
class ReportForm:
    account_id: str
    status_ids: Sequence[str] = ()
    comment: str = ""
    category: str | None = None
    rule_ids: Sequence[str] = ()
    forward: bool = False


# -- filing -----------------------------------------------------------------------


def _category(form: ReportForm) -> str:
    if form.category is None or form.category == "":
        return "violation" if form.rule_ids else "other"
    if form.category not in CATEGORIES:
        raise Invalid(f"Validation failed: Category must be one of {', '.join(CATEGORIES)}")
    return form.category


def _ids(refs: Sequence[str]) -> list[int]:
    ids = []
    for ref in refs:
        value = parse_id(ref)
        if value is None:
            raise NotFound()
        ids.append(value)
    return list(dict.fromkeys(ids))


async def file_report(
    rt: Runtime, reporter: User, form: ReportForm
) -> tuple[Report, User, list[int]]:
    """File a report about ``form.account_id`` and the statuses of it the
    reporter can see (404 for anything else, nothing filed)."""
    category = _category(form)
    if len(form.comment) > COMMENT_MAX:
        raise Invalid(f"Validation failed: Comment is too long (maximum is {COMMENT_MAX})")
    rule_ids = list(form.rule_ids)
    if any(parse_id(r) is None for r in rule_ids):
        raise Invalid("Validation failed: Rule ids must be ids")
    account_id = parse_id(form.account_id)
    if account_id is None:
        raise NotFound()
    status_ids = _ids(form.status_ids)
    return await rt.db.run_interaction(
        "file report",
        _file_txn,
        rt,
        reporter,
        account_id,
        status_ids,
        form.comment,
        category,
        rule_ids,
        form.forward,
        None,
    )


async def _file_txn(
    txn: Txn,
    rt: Runtime,
    reporter: User,
    account_id: int,
    status_ids: list[int],
    comment: str,
    category: str,
    rule_ids: list[str],
    forward: bool,
    ap_id: str | None,
) -> tuple[Report, User, list[int]]:
    account = await users_store.get_user_txn(txn, account_id)
    if account is None or account.deleted:
        raise NotFound()
    seen = await loader.load_txn(txn, status_ids, reporter.id)
    if any(
        i not in seen.statuses or seen.statuses[i].status.account_id != account.id
        for i in status_ids
    ):
        raise NotFound()
    kept = await loader.load_txn(txn, status_ids, None, godmode=True)
    rendered = render_statuses(kept, config=rt.config, viewer=None, hidden=())
    report = await store.create_report_txn(
        txn,
        actor_id=reporter.id,
        account_id=account.id,
        comment=comment,
        category=category,
        rule_ids=rule_ids,
        # Federation forwards a report about a remote account (a Flag to its
        # server); a local account's report stays here.
        forwarded=forward and not account.local,
        snapshots=list(zip(kept.order, rendered, strict=True)),
        ap_id=ap_id,
    )
    if report.forwarded:
        await _forward_txn(txn, rt, account, kept, comment)
    return report, account, list(kept.order)


async def _forward_txn(txn: Txn, rt: Runtime, account: User, kept: Loaded, comment: str) -> None:
    """Send the reported account's server a Flag of it and the reported
    statuses of its own (as Mastodon forwards), from the instance actor."""
    remote = await actors_store.get_by_user_id_txn(txn, account.id)
    if remote is None or remote.actor is None:
        return  # never fetched: nowhere to send it
    config = rt.config
    objects = [account.ap_id] + [
        shown.status.ap_id
        for shown in (kept.statuses[i] for i in kept.order)
        if shown.status.ap_id is not None
    ]
    flag = build_flag(
        new_activity_id(config), instance_actor_id(config.server.base_url), objects, comment
    )
    inbox = remote.actor.shared_inbox or remote.actor.inbox
    await delivery.enqueue_txn(txn, actor_id=None, activity=flag, inboxes=[inbox])


async def apply_flag(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    """An incoming ``Flag``: a report by the remote ``actor`` (in practice
    its server's instance actor) about our accounts and statuses it names
    in ``object``; its ``content`` is the comment.  Objects we do not know
    are left out; a Flag naming no account of ours is dropped."""
    objects = activity.get("object")
    names = [objects] if isinstance(objects, str) else objects if isinstance(objects, list) else []
    names = [n for n in names if isinstance(n, str)]
    comment = activity.get("content")
    flag_id = activity.get("id")
    await rt.db.run_interaction(
        "apply flag",
        _flag_txn,
        rt,
        actor,
        names,
        comment[:COMMENT_MAX] if isinstance(comment, str) else "",
        flag_id if isinstance(flag_id, str) else None,
    )


async def _flag_txn(
    txn: Txn, rt: Runtime, actor: User, names: list[str], comment: str, flag_id: str | None
) -> None:
    if flag_id is not None and await store.get_by_ap_id_txn(txn, flag_id) is not None:
        return
    accounts = await users_store.ids_by_ap_id_txn(txn, names)
    if not accounts:
        return
    account_id = next(iter(accounts.values()))
    status_ids = []
    for name in names:
        status = await statuses_store.get_by_ap_id_txn(txn, name)
        if status is None and name.startswith(rt.config.server.base_url + "/objects/"):
            status = await statuses_store.get_by_object_uuid_txn(txn, name.rsplit("/", 1)[1])
        if status is not None and status.account_id == account_id:
            status_ids.append(status.id)
    kept = await loader.load_txn(txn, status_ids, None, godmode=True)
    rendered = render_statuses(kept, config=rt.config, viewer=None, hidden=())
    await store.create_report_txn(
        txn,
        actor_id=actor.id,
        account_id=account_id,
        comment=comment,
        category="other",
        rule_ids=(),
        forwarded=False,
        snapshots=list(zip(kept.order, rendered, strict=True)),
        ap_id=flag_id,
    )


# -- moderating ---------------------------------------------------------------------


def check_state(state: str | None) -> str | None:
    if state is not None and state not in store.STATES:
        raise BadRequest(f"Invalid value for state: expected one of {', '.join(store.STATES)}")
    return state


def report_id(ref: str) -> int:
    value = parse_id(ref)
    if value is None:
        raise NotFound()
    return value


async def list_reports(
    rt: Runtime, moderator: User, state: str | None, page: int, page_size: int
) -> tuple[list[ShownReport], int]:
    require_staff(moderator)
    check_state(state)
    return await rt.db.run_interaction(
        "list reports", _list_txn, state, page_size, min((page - 1) * page_size, BIGINT_MAX)
    )


async def _list_txn(
    txn: Txn, state: str | None, limit: int, offset: int
) -> tuple[list[ShownReport], int]:
    found, total = await store.list_reports_txn(txn, state, limit, offset)
    return await store.shown_txn(txn, found), total


async def get_report(rt: Runtime, moderator: User, ref: str) -> ShownReport:
    require_staff(moderator)
    return await rt.db.run_interaction("get report", _get_txn, report_id(ref))


async def _get_txn(txn: Txn, wanted: int) -> ShownReport:
    found = await store.get_report_txn(txn, wanted)
    if found is None:
        raise NotFound()
    return (await store.shown_txn(txn, [found]))[0]


async def update_states(
    rt: Runtime, moderator: User, changes: Sequence[tuple[str, str]]
) -> list[ShownReport]:
    """Set the state of every (report id, state) pair: all are checked
    before any changes (400 for a bad state, 404 for an unknown report)."""
    require_staff(moderator)
    if not changes:
        raise BadRequest("Missing field: reports")
    wanted = [(report_id(ref), check_state(state) or "") for ref, state in changes]
    return await rt.db.run_interaction("update reports", _update_txn, moderator, wanted)


async def _update_txn(
    txn: Txn, moderator: User, wanted: list[tuple[int, str]]
) -> list[ShownReport]:
    found = []
    for wanted_id, _ in wanted:
        report = await store.get_report_txn(txn, wanted_id, for_update=True)
        if report is None:
            raise NotFound()
        found.append(report)
    for report, (_, state) in zip(found, wanted, strict=True):
        await store.set_state_txn(txn, report.id, state)
        account = await users_store.get_user_txn(txn, report.account_id)
        await audit_txn(
            txn,
            moderator,
            "report_update",
            str(report.id),
            about_user=False,
            says=f"updated report #{report.id}"
            + (f" (on user @{account.nickname})" if account else "")
            + f" with '{state}' state",
        )
    return await store.shown_txn(txn, found)


async def add_note(rt: Runtime, moderator: User, ref: str, content: str) -> Note:
    require_staff(moderator)
    if not content.strip():
        raise BadRequest("Missing field: content")
    return await rt.db.run_interaction(
        "add report note", _add_note_txn, moderator, report_id(ref), content
    )


async def _add_note_txn(txn: Txn, moderator: User, wanted: int, content: str) -> Note:
    report = await store.get_report_txn(txn, wanted, for_update=True)
    if report is None:
        raise NotFound()
    if report.state == "closed":
        raise BadRequest(REPORT_CLOSED)
    note = await store.add_note_txn(txn, report.id, moderator.id, content)
    await audit_txn(
        txn,
        moderator,
        "report_note",
        str(report.id),
        about_user=False,
        says=f"added note '{content}' to report #{report.id}",
    )
    return note


async def delete_note(rt: Runtime, moderator: User, ref: str, note_ref: str) -> None:
    require_staff(moderator)
    note_id = parse_id(note_ref)
    if note_id is None:
        raise NotFound()
    await rt.db.run_interaction(
        "delete report note", _delete_note_txn, moderator, report_id(ref), note_id
    )


async def _delete_note_txn(txn: Txn, moderator: User, wanted: int, note_id: int) -> None:
    note = await store.delete_note_txn(txn, wanted, note_id)
    if note is None:
        raise NotFound()
    await audit_txn(
        txn,
        moderator,
        "report_note_delete",
        str(wanted),
        about_user=False,
        says=f"deleted note '{note.content}' from report #{wanted}",
    )
