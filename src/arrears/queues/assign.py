"""Set-based assignment of open, unassigned tasks to collectors (DuckDB), per team and skill.

Every collector has ``capacity`` slots; slot k (load < k ≤ capacity) is the k-th open task they would hold.
Tasks of one skill key (team, language, product, stage) are numbered — highest priority (expected recovery,
queues/priority.py) first, then oldest — and joined to the numbered free slots
of the collectors whose skills cover the key: ordered by level k then position (least_loaded: the emptiest
first), or by round (k − load) then position rotated to start after the team's last assignee (round_robin).
Python loops over distinct skill keys only; loads carry over from one key to the next.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from arrears.queues.config import Teams

SLOTS = pa.schema([("team", pa.string()), ("user_id", pa.int64()), ("pos", pa.int64()), ("capacity", pa.int64()),
                   ("any_lang", pa.bool_()), ("langs", pa.list_(pa.string())), ("any_prod", pa.bool_()),
                   ("prods", pa.list_(pa.string())), ("any_stage", pa.bool_()), ("stages", pa.list_(pa.string())),
                   ("mode", pa.string())])


def collectors_table(config: Teams, user_ids: dict[str, int]) -> pa.Table:
    """The teams' collectors who exist as users (unknown usernames are skipped), with skills and position."""
    rows = [{"team": t.code, "user_id": user_ids[c.username], "pos": i, "capacity": c.capacity,
             "any_lang": not c.languages, "langs": list(c.languages), "any_prod": not c.products,
             "prods": list(c.products), "any_stage": not c.stages, "stages": list(c.stages), "mode": t.mode}
            for t in config.teams for i, c in enumerate(t.collectors) if c.username in user_ids]
    return pa.Table.from_pylist(rows, schema=SLOTS)


def plan(tasks: pa.Table, collectors: pa.Table, loads: pa.Table, last: pa.Table) -> pa.Table:
    """``tasks(id, team, language, product_code, stage[, priority])`` unassigned; ``loads(user_id, load)`` open
    tasks held; ``last(team, user_id)`` the team's latest assignee. Returns ``(id, assignee_user_id)``."""
    if "priority" not in tasks.column_names:
        tasks = tasks.append_column("priority", pa.array([0] * tasks.num_rows, pa.int64()))
    con = duckdb.connect()
    try:
        for name, table in (("tasks", tasks), ("coll_in", collectors), ("loads", loads), ("last", last)):
            con.register(name, table)
        con.execute("""
            CREATE TABLE coll AS
            SELECT c.*, COALESCE(l.load, 0) AS load,
                   (c.pos - COALESCE(p.pos, -1) - 1 + n.n) % n.n AS rr_pos
            FROM coll_in c LEFT JOIN loads l USING (user_id)
            JOIN (SELECT team, count(*) AS n FROM coll_in GROUP BY team) n USING (team)
            LEFT JOIN (SELECT x.team, c2.pos FROM last x JOIN coll_in c2 USING (team, user_id)) p USING (team)""")
        con.execute("CREATE TABLE done (id BIGINT, assignee_user_id BIGINT, rn BIGINT)")
        keys = con.sql("SELECT DISTINCT team, language, product_code, stage FROM tasks "
                       "ORDER BY team, language, product_code, stage").fetchall()
        for team, language, product, stage in keys:
            params = [team, language, product, stage]
            con.execute("""
                INSERT INTO done
                WITH el AS (SELECT * FROM coll WHERE team = $1 AND load < capacity
                              AND (any_lang OR list_contains(langs, $2)) AND (any_prod OR list_contains(prods, $3))
                              AND (any_stage OR list_contains(stages, $4))),
                slots AS (SELECT user_id, row_number() OVER (
                              ORDER BY CASE WHEN mode = 'round_robin' THEN k - load ELSE k END,
                                       CASE WHEN mode = 'round_robin' THEN rr_pos ELSE pos END) AS rn
                          FROM el, range(load + 1, capacity + 1) r(k)),
                t AS (SELECT id, row_number() OVER (ORDER BY priority DESC, id) AS rn FROM tasks
                      WHERE team = $1 AND language = $2 AND product_code = $3 AND stage = $4)
                SELECT t.id, s.user_id, t.rn FROM t JOIN slots s USING (rn)""", params)
            # what this key took counts for the next key (in every team the collector is in)
            con.execute("""
                UPDATE coll SET load = coll.load + a.n FROM (
                    SELECT assignee_user_id AS user_id, count(*) AS n FROM done
                    WHERE id IN (SELECT id FROM tasks WHERE team = $1 AND language = $2 AND product_code = $3
                                 AND stage = $4) GROUP BY 1) a
                WHERE coll.user_id = a.user_id""", params)
            # round robin continues after the last one served (the key's last slot taken)
            con.execute("""
                UPDATE coll SET rr_pos = (coll.pos - p.pos - 1 + n.n) % n.n
                FROM (SELECT c.pos FROM done d JOIN coll c ON c.user_id = d.assignee_user_id AND c.team = $1
                      WHERE d.id IN (SELECT id FROM tasks WHERE team = $1 AND language = $2 AND product_code = $3
                                     AND stage = $4)
                      ORDER BY d.rn DESC LIMIT 1) p,
                     (SELECT count(*) AS n FROM coll WHERE team = $1) n
                WHERE coll.team = $1""", params)
        return con.sql("SELECT id, assignee_user_id FROM done ORDER BY id").to_arrow_table()
    finally:
        con.close()
