"""The rating hot path on PostgreSQL, one statement per request:

- the answer: check the assignment, the item's window and uniqueness, insert the rating
  and touch the assignment's activity;
- the next item: find the first item still open, record when it is served, and say how
  much of its window is left.

An adaptive study's assignment finds no row in the next-item statement here (it serves fixed
batches only); adaptive_sql.py's one statement decides for it instead.

Both only ever take the happy path. Whenever they find nothing to do (a duplicate, a late
answer, an unknown token, a finished batch, a race...), the caller runs the full service,
which decides and explains; so the rules keep one authoritative home in services.py.
"""
from __future__ import annotations

from django.db import connection

from .adaptive_sql import adaptive_item_next_fast
from .models import Assignment, Batch, BatchItem, ItemView, Rating, Study

_SQL = None
_NEXT_SQL = None


def _statement() -> str:
    global _SQL
    if _SQL is None:
        _SQL = f"""
WITH a AS (
    SELECT asg.id, s.viewing_seconds + s.answer_grace_seconds AS answer_window
    FROM {Assignment._meta.db_table} asg
    JOIN {Batch._meta.db_table} b ON b.id = asg.batch_id
    JOIN {Study._meta.db_table} s ON s.id = b.study_id
    WHERE asg.token = %(token)s AND asg.status = 'active'
), v AS (
    SELECT a.id AS assignment_id, iv.served_at
    FROM {ItemView._meta.db_table} iv JOIN a ON iv.assignment_id = a.id
    WHERE iv.item_id = %(item)s AND now() <= iv.served_at + make_interval(secs => a.answer_window)
), ins AS (
    INSERT INTO {Rating._meta.db_table} (assignment_id, item_id, score, created_at, response_ms)
    SELECT assignment_id, %(item)s, %(score)s, now(),
           GREATEST(0, (EXTRACT(EPOCH FROM now() - served_at) * 1000)::integer)
    FROM v
    ON CONFLICT DO NOTHING
    RETURNING assignment_id
), touch AS (
    UPDATE {Assignment._meta.db_table} SET last_activity_at = now()
    WHERE id IN (SELECT assignment_id FROM ins) AND last_activity_at < now() - interval '10 seconds'
)
SELECT count(*) FROM ins
"""
    return _SQL


def rating_insert_fast(*, token: str, item_id: int, score: int) -> bool:
    """True when the rating was stored; False means: ask the full service."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute(_statement(), {"token": token, "item": item_id, "score": score})
        return cursor.fetchone()[0] == 1


def _next_statement() -> str:
    global _NEXT_SQL
    if _NEXT_SQL is None:
        _NEXT_SQL = f"""
WITH a AS (
    SELECT asg.id, asg.batch_id, s.viewing_seconds AS view_s, s.answer_grace_seconds AS grace_s
    FROM {Assignment._meta.db_table} asg
    JOIN {Batch._meta.db_table} b ON b.id = asg.batch_id
    JOIN {Study._meta.db_table} s ON s.id = b.study_id
    WHERE asg.token = %(token)s AND asg.status = 'active' AND NOT s.adaptive AND asg.consented_at IS NOT NULL
), items AS (
    SELECT bi.id, row_number() OVER (ORDER BY bi.position) AS k, count(*) OVER () AS total,
           r.id AS rating_id, iv.served_at, a.id AS assignment_id, a.view_s, a.grace_s
    FROM {BatchItem._meta.db_table} bi
    JOIN a ON bi.batch_id = a.batch_id
    LEFT JOIN {Rating._meta.db_table} r ON r.item_id = bi.id AND r.assignment_id = a.id
    LEFT JOIN {ItemView._meta.db_table} iv ON iv.item_id = bi.id AND iv.assignment_id = a.id
), pick AS (
    SELECT * FROM items
    WHERE rating_id IS NULL
      AND (served_at IS NULL OR now() <= served_at + make_interval(secs => view_s + grace_s))
    ORDER BY k LIMIT 1
), ins AS (
    INSERT INTO {ItemView._meta.db_table} (assignment_id, item_id, served_at)
    SELECT assignment_id, id, now() FROM pick WHERE served_at IS NULL
    ON CONFLICT DO NOTHING
    RETURNING served_at
), shown AS (
    SELECT pick.*, COALESCE(pick.served_at, (SELECT served_at FROM ins)) AS at FROM pick
)
SELECT id, k, total, view_s, grace_s, EXTRACT(EPOCH FROM now() - at) FROM shown WHERE at IS NOT NULL
"""
    return _NEXT_SQL


def item_next_fast(*, token: str) -> dict | None:
    """The next item and its time left, or None: ask the full service."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_next_statement(), {"token": token})
        row = cursor.fetchone()
    if row is None:
        # An adaptive study's assignment (or nothing to serve): its own statement decides.
        return adaptive_item_next_fast(token=token)
    item_id, position, total, view_s, grace_s, elapsed = row
    elapsed = float(elapsed)
    return {
        "item": item_id, "position": int(position), "total": int(total),
        "view_seconds_left": max(view_s - elapsed, 0.0),
        "answer_seconds_left": max(view_s + grace_s - elapsed, 0.0),
    }
