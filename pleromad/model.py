"""The rows and values the layers hand each other.

``store/`` reads and writes them, ``domain/`` decides with them and
``views/`` renders them; they live here, apart from all three, so that a
view can take a value without importing the code that queries or judges it.
Plain frozen dataclasses: no I/O, nothing of pleromad beneath them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from functools import cache
from typing import Any, Literal, TypeVar

_Row = TypeVar("_Row")

Verdict = Literal["ok", "invalid", "expired"]


def from_row(cls: type[_Row], row: dict[str, Any]) -> _Row:
    """The frozen dataclass ``cls`` of a database row that holds exactly its
    fields.  Its ``__init__`` sets each field through ``object.__setattr__``,
    ten times the cost of filling the instance's dict at once: some 40
    accounts and statuses a page made it a tenth of serving one."""
    names = _field_names(cls)  # type: ignore[arg-type]  # a class is hashable
    assert row.keys() == names, sorted(row.keys() ^ names)
    entity: _Row = object.__new__(cls)
    entity.__dict__.update(row)
    return entity


@cache
def _field_names(cls: Any) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


# -- accounts -----------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: int
    nickname: str
    email: str | None
    name: str | None
    bio: str
    bio_html: str
    password_hash: str | None
    local: bool
    ap_id: str
    locked: bool
    is_admin: bool
    is_moderator: bool
    deactivated: bool
    deleted: bool
    confirmation_pending: bool
    confirmation_token: str | None
    password_reset_pending: bool
    hide_favorites: bool
    hide_followers: bool
    hide_follows: bool
    no_rich_text: bool
    show_role: bool
    skip_thread_containment: bool
    default_scope: str
    notification_settings: dict[str, Any]
    settings_store: dict[str, Any]
    tags: list[str]
    avatar: dict[str, Any] | None
    banner: dict[str, Any] | None
    background: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @property
    def display_name(self) -> str:
        return self.name or self.nickname


@dataclass(frozen=True, slots=True)
class KeyPair:
    public_key_pem: str
    private_key_pem: str


# -- oauth --------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    id: int
    client_name: str
    redirect_uris: str
    scopes: list[str]
    website: str | None
    client_id: str
    client_secret: str

    @property
    def redirect_uri_list(self) -> list[str]:
        return self.redirect_uris.split()


@dataclass(frozen=True)
class Token:
    """An access token as the request that presents it needs it."""

    id: int
    app_id: int
    user_id: int | None
    scopes: list[str]
    created_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: the only time its secrets exist in clear."""

    token: Token
    access_token: str
    refresh_token: str


# -- relationships ------------------------------------------------------------


@dataclass(frozen=True)
class Follow:
    id: int
    follower_id: int
    followee_id: int
    state: str
    show_reblogs: bool
    # The Follow activity: a local follower's is <base_url>/activities/<activity_uuid>,
    # a remote follower's the id its server gave it (ap_id).
    activity_uuid: str
    ap_id: str | None


@dataclass(frozen=True)
class Relationship:
    """What ``viewer`` and ``target`` are to each other, from the viewer's side."""

    target_id: int
    following: bool
    requested: bool
    followed_by: bool
    blocking: bool
    blocked_by: bool
    muting: bool
    muting_notifications: bool
    subscribing: bool
    showing_reblogs: bool


@dataclass(frozen=True)
class FollowCounts:
    followers: int = 0
    following: int = 0


@dataclass(frozen=True)
class Listed:
    """An account in a list of follows, blocks or mutes, with the id its
    page is keyed by."""

    cursor: int
    user: User


# -- media --------------------------------------------------------------------


@dataclass(frozen=True)
class NewMedia:
    """A stored file about to be recorded."""

    purpose: str
    path: str
    url: str
    mime_type: str
    size: int
    description: str


@dataclass(frozen=True)
class Media(NewMedia):
    """A recorded file: what was stored, whose it is and since when; for a
    remote attachment, ``url`` is the remote file and ``path`` and ``size``
    are None."""

    # Narrower than NewMedia's on purpose: a remote attachment has no file.
    path: str | None  # type: ignore[assignment]
    size: int | None  # type: ignore[assignment]
    id: int
    user_id: int
    created_at: datetime
    # What a remote post said of its attachment (never computed for uploads).
    blurhash: str | None
    width: int | None
    height: int | None


# -- statuses -----------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """What a post says and where it belongs."""

    id: int
    account_id: int
    in_reply_to_id: int | None
    in_reply_to_account_id: int | None
    conversation_id: int
    visibility: str
    content_type: str
    source: str
    content: str
    spoiler_text: str
    sensitive: bool


@dataclass(frozen=True)
class Status(Post):
    """A statuses row: a post, or a reblog (``reblog_of_id``, no text)."""

    reblog_of_id: int | None
    created_at: datetime
    # ActivityPub: a local status' Note and Create are named by these uuids;
    # a remote one keeps the ids (and HTML page) its server gave it.
    object_uuid: str
    activity_uuid: str
    ap_id: str | None
    activity_ap_id: str | None
    url: str | None
    # The ActivityStreams context (thread) a remote status named.
    context: str | None
    # When the post was last edited (what it says now was written); None
    # while it never was.
    edited_at: datetime | None


@dataclass(frozen=True)
class AttachmentVersion:
    """An attachment as an earlier version of a post showed it (the media
    row may have changed or gone since)."""

    id: int
    url: str
    mime_type: str
    description: str
    blurhash: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class StatusVersion:
    """What a post said from ``created_at`` until its next edit."""

    content: str
    spoiler_text: str
    sensitive: bool
    media: tuple[AttachmentVersion, ...]
    # (shortcode, absolute URL)
    emojis: tuple[tuple[str, str], ...]
    created_at: datetime


@dataclass(frozen=True)
class NewStatus(Post):
    """A post about to be written; ``id`` comes from :func:`new_id_txn`."""

    mention_ids: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    # (shortcode, absolute URL)
    emojis: tuple[tuple[str, str], ...] = ()
    media_ids: tuple[int, ...] = ()
    # A remote post's ids, page and conversation, and when it was published.
    ap_id: str | None = None
    activity_ap_id: str | None = None
    url: str | None = None
    context: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Shown:
    """A status as one viewer sees it: the row and everything around it."""

    status: Status
    replies_count: int
    reblogs_count: int
    favourites_count: int
    favourited: bool
    reblogged: bool
    muted: bool
    mention_ids: tuple[int, ...]
    tags: tuple[str, ...]
    emojis: tuple[tuple[str, str], ...]
    media_ids: tuple[int, ...]
    # The row's version (see pleromad.views.cache): what its rendering is kept by.
    version: int


@dataclass(frozen=True)
class Loaded:
    """Statuses loaded for one viewer, ready for the views.

    ``order`` lists the requested ids the viewer may see, in the order asked
    (a reblog is listed only when its original may be seen too);
    ``statuses`` holds them and the originals of reblogs among them.
    """

    viewer_id: int | None
    order: tuple[int, ...]
    statuses: dict[int, Shown] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    media: dict[int, Media] = field(default_factory=dict)
    follow_counts: dict[int, FollowCounts] = field(default_factory=dict)
    statuses_counts: dict[int, int] = field(default_factory=dict)
    relationships: dict[int, Relationship] = field(default_factory=dict)
    # The actor documents of the remote accounts among ``users``.
    remote_documents: dict[int, dict[str, Any]] = field(default_factory=dict)
    # The version of each of ``users`` with its actor document's (None: no
    # document), read with the rows: what their renderings are kept by.
    account_versions: dict[int, tuple[int, int | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusFilters:
    """The optional narrowing of a status listing; all off by default."""

    only_media: bool = False
    exclude_replies: bool = False
    exclude_reblogs: bool = False
    local_only: bool = False
    remote_only: bool = False
    tagged: str | None = None


# -- notifications ------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    id: int
    user_id: int
    type: str
    actor_id: int
    status_id: int | None
    seen: bool
    created_at: datetime
    # A pleroma:report notification's report (for admins and moderators).
    report_id: int | None


@dataclass(frozen=True)
class NotificationFilters:
    """Which of an account's notifications a listing shows."""

    exclude_types: tuple[str, ...] = ()
    # When given, only these types.
    types: tuple[str, ...] | None = None
    # Also those from accounts the reader blocks or mutes.
    with_muted: bool = False


# -- idempotency keys ---------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """The right to run ``request`` under ``key`` for ``user_id`` and to
    record its answer; ``token`` tells it from a later takeover of the key."""

    user_id: int
    key: str
    request: str
    token: int


@dataclass(frozen=True)
class Remembered:
    """An answer recorded under a key: its HTTP status and JSON text, and
    the X-Request-Id of the request that gave it ('' if unknown)."""

    status: int
    body: str
    request_id: str = ""


# -- invites ------------------------------------------------------------------


@dataclass(frozen=True)
class Invite:
    id: int
    token: str
    max_use: int | None
    uses: int
    expires_at: date | None
    used: bool
    created_at: datetime

    @property
    def invite_type(self) -> str:
        if self.max_use is not None and self.expires_at is not None:
            return "reusable_date_limited"
        if self.expires_at is not None:
            return "date_limited"
        if self.max_use is not None:
            return "reusable"
        return "one_time"

    def verdict(self, today: date) -> Verdict:
        """``ok`` if a registration may use it on ``today`` (a UTC date), else
        ``expired`` (used up, revoked, or past its date)."""
        if self.used:
            return "expired"
        if self.expires_at is not None and today > self.expires_at:
            return "expired"
        if self.max_use is not None and self.uses >= self.max_use:
            return "expired"
        return "ok"


# -- health -------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    pool_size: int
    active: int
    idle: int
    memory_used: float
    healthy: bool


@dataclass(frozen=True)
class Usage:
    """NodeInfo's ``usage``: local accounts in use, those active in the last
    month and half-year, and local posts."""

    users: int
    active_month: int
    active_halfyear: int
    local_posts: int


@dataclass(frozen=True)
class Report:
    id: int
    actor_id: int
    account_id: int
    comment: str
    category: str
    rule_ids: list[str]
    forwarded: bool
    state: str
    ap_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Note:
    id: int
    report_id: int
    user_id: int
    content: str
    created_at: datetime


@dataclass(frozen=True)
class ShownReport:
    """A report with all a moderator sees of it."""

    report: Report
    account: User
    actor: User
    statuses: list[dict[str, Any]]
    notes: list[tuple[Note, User]]


@dataclass(frozen=True)
class LogEntry:
    id: int
    actor_id: int | None
    data: dict[str, Any]
    message: str
    created_at: datetime
