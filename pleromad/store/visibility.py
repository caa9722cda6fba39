"""Who may see a status, as one SQL predicate every query shares.

A private or direct status must never leak through any listing, count or
notification, so there is exactly one definition, used by every store
function that reads statuses for a viewer.
"""

from __future__ import annotations

# The viewer the status loader's statements name for an anonymous reader.
# No account has this id (ids are time-based, see migration 0003), so every
# clause about the viewer is false for it, as it is for NULL; but where the
# planner folds a NULL away and plans an anonymous page apart, it cannot
# fold 0, so anonymous and logged-in pages share one prepared statement
# and its kept plan (see pleromad.db.prepared).
NO_VIEWER = 0


def visible_to_viewer(alias: str = "s") -> str:
    """SQL that is true when the status ``alias`` may be seen by the account
    ``%(viewer)s`` (NULL for an anonymous reader).

    Public and unlisted statuses are for everyone; private ones for the
    author's accepted followers; private and direct ones for the accounts
    they mention; everything for the author.  Statuses of deactivated or
    deleted accounts are for nobody, and an author who blocks the viewer is
    invisible to them.  The caller passes ``viewer`` among its named
    parameters.
    """
    return (
        f"(({alias}.visibility IN ('public', 'unlisted')"
        f" OR {alias}.account_id = %(viewer)s"
        f" OR EXISTS (SELECT 1 FROM status_mentions vm"
        f"            WHERE vm.status_id = {alias}.id AND vm.account_id = %(viewer)s)"
        f" OR ({alias}.visibility = 'private' AND EXISTS (SELECT 1 FROM follows vf"
        f"     WHERE vf.follower_id = %(viewer)s AND vf.followee_id = {alias}.account_id"
        f"       AND vf.state = 'accepted')))"
        f" AND NOT EXISTS (SELECT 1 FROM users va WHERE va.id = {alias}.account_id"
        f"                 AND (va.deactivated OR va.deleted))"
        f" AND NOT EXISTS (SELECT 1 FROM blocks vb WHERE vb.blocker_id = {alias}.account_id"
        f"                 AND vb.blocked_id = %(viewer)s))"
    )
