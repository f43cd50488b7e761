"""The adaptive next-item request on PostgreSQL, in one statement.

It serves the assignment's next position: an item it already has (a gold item placed at
launch, or an image filled earlier and still in its window), or, at an empty position, the
pool image the rule in quality/adaptive_rule.py ranks first, which it inserts as this
assignment's item and starts the window of. Keep the arithmetic in step with that module.

It ranks from each pool image's running totals, which PostgreSQL triggers keep in step with
every rating, item and assignment status change (migration 0004), so its cost is one row per
pool image rather than every rating of the study.

Races are settled by unique constraints, not locks: the new item carries the image's next
slot number (pool, pool_seq) and its position for this assignment (assignment, position), so
two raters taking an image's last slot at once, or two tabs filling one position, make one
INSERT do nothing. Then, as when there is nothing to serve, the statement returns no row and
the caller runs the full service (studies/adaptive.py), which locks and decides.
"""
from __future__ import annotations

from django.db import connection

from quality.adaptive_rule import BELOW_MIN_BONUS, DEFAULT_SIGMA0_SQ, PRIOR_WEIGHT, STRATA_TOLERANCE, Z90

from .models import AdaptiveImage, Assignment, Batch, BatchItem, GoldItem, ItemView, Rating, Study

_SQL = None


def _statement() -> str:
    global _SQL
    if _SQL is not None:
        return _SQL
    t = {m.__name__: m._meta.db_table for m in (AdaptiveImage, Assignment, Batch, BatchItem, GoldItem, ItemView, Rating, Study)}
    _SQL = f"""
WITH a AS (
    SELECT asg.id, asg.rater_id, asg.batch_id, s.id AS study_id,
           s.viewing_seconds AS view_s, s.answer_grace_seconds AS grace_s,
           s.min_raters AS min_r, s.max_raters AS max_r, s.stop_half_width AS hw,
           COALESCE((s.adaptive_state->>'sigma0_sq')::float, {DEFAULT_SIGMA0_SQ}) AS sigma0_sq,
           (s.adaptive_state->>'tau_sq')::float AS tau_sq,
           COALESCE((s.adaptive_state->>'prior_weight')::float, {PRIOR_WEIGHT}) AS k0,
           GREATEST(0, LEAST(s.items_per_batch, s.rating_budget - b.index * s.items_per_batch))
             + (SELECT count(*) FROM {t['GoldItem']} g WHERE g.study_id = s.id) AS slots
    FROM {t['Assignment']} asg
    JOIN {t['Batch']} b ON b.id = asg.batch_id
    JOIN {t['Study']} s ON s.id = b.study_id
    WHERE asg.token = %(token)s AND asg.status = 'active' AND s.adaptive AND s.status IN ('running', 'paused')
), own AS (
    SELECT bi.id, bi.position, r.id AS rating_id, iv.served_at
    FROM {t['BatchItem']} bi
    JOIN a ON bi.batch_id = a.batch_id AND (bi.assignment_id = a.id OR (bi.assignment_id IS NULL AND bi.gold_id IS NOT NULL))
    LEFT JOIN {t['Rating']} r ON r.item_id = bi.id AND r.assignment_id = a.id
    LEFT JOIN {t['ItemView']} iv ON iv.item_id = bi.id AND iv.assignment_id = a.id
), pick AS (
    SELECT p.position, own.id AS item_id, own.served_at
    FROM a CROSS JOIN generate_series(0, a.slots - 1) AS p(position)
    LEFT JOIN own ON own.position = p.position
    WHERE own.id IS NULL
       OR (own.rating_id IS NULL AND (own.served_at IS NULL OR now() <= own.served_at + make_interval(secs => a.view_s + a.grace_s)))
    ORDER BY p.position LIMIT 1
), mine AS (
    SELECT DISTINCT bi.pool_id
    FROM a JOIN {t['Assignment']} asg ON asg.rater_id = a.rater_id
    JOIN {t['BatchItem']} bi ON bi.assignment_id = asg.id
    WHERE bi.pool_id IS NOT NULL
), stats AS (
    -- Running totals kept by triggers (migration 0004): one row per image, no aggregation.
    SELECT p.id, p.image_id, p.stratum, p.q_pred, p.n::float AS n, p.s1, p.s2, p.taken::float AS taken, p.seq,
           (mine.pool_id IS NOT NULL) AS mine
    FROM a JOIN {t['AdaptiveImage']} p ON p.study_id = a.study_id
    LEFT JOIN mine ON mine.pool_id = p.id
    WHERE EXISTS (SELECT 1 FROM pick WHERE pick.item_id IS NULL)
), moments AS (
    SELECT stats.*,
           CASE WHEN n > 0 THEN s1 / n ELSE 0 END AS mean,
           CASE WHEN n > 0 THEN GREATEST(s2 - s1 * s1 / n, 0) ELSE 0 END AS ss,
           (a.tau_sq IS NOT NULL AND q_pred IS NOT NULL AND n > 0) AS use_q,
           a.sigma0_sq, a.tau_sq, a.k0, a.min_r, a.max_r, a.hw
    FROM stats CROSS JOIN a
), variance AS (
    SELECT moments.*,
           (k0 * sigma0_sq + ss
             + CASE WHEN use_q THEN GREATEST(0, n * ((q_pred - mean) ^ 2 - tau_sq)) ELSE 0 END)
           / (k0 + GREATEST(n - 1, 0) + CASE WHEN use_q THEN 1 ELSE 0 END) AS var
    FROM moments
), ranked AS (
    SELECT variance.*,
           (taken < max_r AND NOT (n >= min_r AND n > 0 AND {Z90} * sqrt(var / GREATEST(n, 1)) <= hw) AND NOT mine) AS eligible,
           CASE WHEN taken > 0 THEN var / (taken * (taken + 1)) ELSE var END
             + CASE WHEN taken < min_r THEN {BELOW_MIN_BONUS} * (min_r - taken) ELSE 0 END AS gain
    FROM variance
), strata AS (
    SELECT stratum, avg(taken) AS per_image, bool_or(eligible) AS has FROM ranked GROUP BY stratum
), choice AS (
    SELECT ranked.id, ranked.image_id, ranked.seq FROM ranked JOIN strata USING (stratum)
    WHERE ranked.eligible
      AND strata.per_image <= (SELECT min(per_image) FROM strata WHERE has) + {STRATA_TOLERANCE} + 1e-9
    ORDER BY ranked.gain DESC, ranked.id LIMIT 1
), fill AS (
    INSERT INTO {t['BatchItem']} (batch_id, image_id, position, gold_id, assignment_id, pool_id, pool_seq)
    SELECT a.batch_id, choice.image_id, pick.position, NULL, a.id, choice.id, choice.seq + 1
    FROM a, pick, choice WHERE pick.item_id IS NULL
    ON CONFLICT DO NOTHING
    RETURNING id
), shown AS (
    SELECT COALESCE(pick.item_id, (SELECT id FROM fill)) AS item_id, pick.position, pick.served_at FROM pick
), view AS (
    INSERT INTO {t['ItemView']} (assignment_id, item_id, served_at)
    SELECT a.id, shown.item_id, now() FROM a, shown WHERE shown.served_at IS NULL AND shown.item_id IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING served_at
)
SELECT shown.item_id, shown.position, a.slots, a.view_s, a.grace_s,
       EXTRACT(EPOCH FROM now() - COALESCE(shown.served_at, (SELECT served_at FROM view)))
FROM shown, a
WHERE shown.item_id IS NOT NULL AND COALESCE(shown.served_at, (SELECT served_at FROM view)) IS NOT NULL
"""
    return _SQL


def adaptive_item_next_fast(*, token: str) -> dict | None:
    """The next item of an adaptive assignment and its time left, or None: ask the full service."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_statement(), {"token": token})
        row = cursor.fetchone()
    if row is None:
        return None
    item_id, position, total, view_s, grace_s, elapsed = row
    elapsed = float(elapsed)
    return {
        "item": item_id, "position": int(position) + 1, "total": int(total),
        "view_seconds_left": max(view_s - elapsed, 0.0),
        "answer_seconds_left": max(view_s + grace_s - elapsed, 0.0),
    }
