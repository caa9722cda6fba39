"""Benchmark: where to keep rendered statuses, in memory or in PostgreSQL.

Loads one page of 20 statuses for a reader (the data of ``favourites.py``)
and measures, in one process against one embedded PostgreSQL:

* rendering the page without a cache, and from a warm in-memory
  ``RenderCache`` (what pleromad does);
* decoding the 20 kept parts as they would come back from PostgreSQL (JSON
  text; the same merge as the memory hit comes on top);
* the loader's query alone, and with the kept JSON joined from a table of
  rendered parts (best of several rounds, alternated).

The FIGURE line compares the daemon's way (a memory hit) with the other
(decoding what PostgreSQL kept plus the same merge).  See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _cli
from bench._figure import figure
from bench._postgres import scratch_postgres
from bench._seed import seed
from pleromad.config import load_config
from pleromad.db.pool import Database, Txn
from pleromad.store import loader
from pleromad.views.cache import RenderCache
from pleromad.views.statuses import render_statuses


def per_call(function: Callable[[], Any], times: int) -> float:
    started = time.perf_counter()
    for _ in range(times):
        function()
    return (time.perf_counter() - started) / times


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with scratch_postgres(reactor) as scratch:
        dsn = await scratch.migrated()
        data = seed(dsn, statuses=options.statuses, authors=100)
        config = load_config(None, data_dir=str(scratch.path / "data"), dsn=dsn)
        db = Database(reactor, dsn, 2)
        await db.open()

        async def newest(txn: Txn) -> list[int]:
            rows = await txn.fetchall(
                "SELECT id FROM statuses WHERE visibility = 'public' ORDER BY id DESC LIMIT 20"
            )
            return [row["id"] for row in rows]

        ids = await db.run_interaction("page", newest)
        loaded = await db.run_interaction("load", loader.load_txn, ids, data.fan_id)

        def render(cache: RenderCache | None) -> Callable[[], Any]:
            return lambda: render_statuses(
                loaded, config=config, viewer=None, hidden=(), cache=cache
            )

        cache = RenderCache()
        render(cache)()
        kept = [
            json.dumps(cache.render("status", i, loaded.statuses[i].version, dict))
            for i in loaded.order
        ]
        uncached = per_call(render(None), options.times)
        from_memory = per_call(render(cache), options.times)
        decoding = per_call(lambda: [json.loads(text) for text in kept], options.times)
        size = sum(map(len, kept)) // len(kept)
        print(f"rendering 20 without a cache      {uncached * 1e3:6.2f} ms")
        print(f"rendering 20 from memory          {from_memory * 1e3:6.2f} ms")
        print(f"decoding 20 parts kept in the db  {decoding * 1e3:6.2f} ms ({size} bytes each)")

        async def kept_table(txn: Txn) -> None:
            await txn.execute(
                "CREATE TABLE bench_rendered (id bigint PRIMARY KEY, version bigint, body jsonb)"
            )
            await txn.execute(
                "INSERT INTO bench_rendered SELECT s.id, 0, %s::jsonb FROM statuses s", (kept[0],)
            )
            await txn.execute("ANALYZE bench_rendered")

        await db.run_interaction("kept", kept_table)
        sql, args = loader.load_query(ids, data.fan_id)
        joined = sql.replace(
            " FROM statuses s JOIN",
            ", kept.body FROM statuses s LEFT JOIN bench_rendered kept ON kept.id = s.id JOIN",
        )
        assert joined != sql
        best: dict[str, float] = {}
        for _ in range(options.rounds):
            for label, query in (("loader's query", sql), ("... with kept JSON", joined)):
                started = time.perf_counter()
                for _ in range(options.queries):
                    await db.run_interaction("q", lambda txn, q=query: txn.fetchall(q, args))
                spent = (time.perf_counter() - started) / options.queries
                best[label] = min(best.get(label, spent), spent)
        for label, spent in best.items():
            print(f"{label:<33} {spent * 1e3:6.2f} ms per transaction (best round)")
        other = decoding + from_memory
        figure(
            "rendered page of 20 from memory vs from PostgreSQL (ms)",
            from_memory * 1e3,
            other * 1e3,
            digits=".2f",
        )
        await db.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--statuses", type=int, default=20_000)
    parser.add_argument("--times", type=int, default=300, help="renderings per figure")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--queries", type=int, default=100, help="transactions per round")
    return _cli.parse(parser, argv, "a small run", statuses=2_000, times=50, rounds=2, queries=20)


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
