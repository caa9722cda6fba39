"""Seeding a bench database in SQL: a million rows in seconds, not hours."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2

# The server seeded local accounts belong to (load_config's default base_url).
BASE_URL = "http://localhost:4000"


@dataclass(frozen=True)
class Dataset:
    fan_id: int
    deep_max_id: int  # a favourite id halfway down the fan's list
    favourites: int


def seed(dsn: str, *, statuses: int, authors: int) -> Dataset:
    """Users, ``statuses`` statuses by ``authors`` accounts (mostly public,
    some unlisted, private and direct) and one favourite of each by the fan,
    all in SQL."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        # The rows are consistent by construction: skip the per-row
        # foreign-key triggers (the embedded server's user is a superuser).
        cur.execute("SET session_replication_role = replica")
        cur.execute(
            "INSERT INTO users (nickname, email, ap_id)"
            " SELECT 'author' || g, 'author' || g || '@example.org',"
            "        %(base)s || '/users/author' || g"
            " FROM generate_series(1, %(authors)s) g",
            {"base": BASE_URL, "authors": authors},
        )
        cur.execute(
            "INSERT INTO users (nickname, email, ap_id)"
            " VALUES ('fan', 'fan@example.org', %s) RETURNING id",
            (f"{BASE_URL}/users/fan",),
        )
        fan_id = cur.fetchone()[0]
        # Ids are given rather than drawn from next_id(): a million rows in a
        # few seconds would wrap its per-millisecond sequence.
        cur.execute("SELECT (floor(extract(epoch FROM now()) * 1000)::bigint << 16)")
        base_id = cur.fetchone()[0] - (statuses * 4)
        cur.execute(
            "INSERT INTO statuses (id, account_id, conversation_id, visibility, source,"
            "                      content, created_at)"
            " SELECT %(base)s + g * 2, a.id, %(base)s + g * 2,"
            "        (CASE WHEN g %% 100 < 90 THEN 'public' WHEN g %% 100 < 95 THEN 'unlisted'"
            "              WHEN g %% 100 < 99 THEN 'private' ELSE 'direct' END),"
            "        'status number ' || g, 'status number ' || g,"
            "        now() - (%(n)s - g) * interval '1 second'"
            " FROM generate_series(1, %(n)s) g"
            " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM users"
            "       WHERE nickname LIKE 'author%%') a ON a.k = g %% %(authors)s",
            {"base": base_id, "n": statuses, "authors": authors},
        )
        # Favourited in the order posted; the favourite ids are later still.
        cur.execute(
            "INSERT INTO favourites (id, account_id, status_id, created_at)"
            " SELECT s.id + %(span)s, %(fan)s, s.id, s.created_at FROM statuses s",
            {"span": statuses * 2 + 1, "fan": fan_id},
        )
        # The triggers that keep the counters were off too (migration 0030).
        cur.execute("SELECT counters_recount()")
        cur.execute("SELECT count(*) FROM favourites")
        count = cur.fetchone()[0]
        cur.execute(
            "SELECT id FROM favourites WHERE account_id = %s ORDER BY id DESC OFFSET %s LIMIT 1",
            (fan_id, count // 2),
        )
        deep_max_id = cur.fetchone()[0]
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return Dataset(fan_id, deep_max_id, count)
