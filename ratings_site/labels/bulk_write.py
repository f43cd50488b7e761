"""Writing a study's labels in one statement on PostgreSQL.

One job. Django's bulk_create builds one model object and one parameter set per label:
about 4 s for a stage II study (37,267 labels) on a loaded 2-core machine, most of the
researcher's wait. Here the columns go to PostgreSQL as five arrays and `unnest` makes the
rows (bench/bench_labels.py --end-to-end measures both). Other databases use bulk_create.
"""
from __future__ import annotations

import numpy as np
from django.db import connection
from django.utils import timezone

from .models import Label


def labels_insert(*, study_id: int, image_ids, mean, std, n, low_n) -> None:
    """Insert labels (the caller has deleted the old ones, inside its transaction)."""
    std = [None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v) for v in std]
    if connection.vendor != "postgresql":
        Label.objects.bulk_create(
            [Label(study_id=study_id, image_id=int(i), mean=float(m), std=s, n=int(k), low_n=bool(low))
             for i, m, s, k, low in zip(image_ids, mean, std, n, low_n)],
            batch_size=5000,
        )
        return
    table = Label._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (study_id, image_id, mean, std, n, low_n, computed_at)
                SELECT %s, i, m, s, k, low, %s
                FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::integer[], %s::boolean[]) AS t(i, m, s, k, low)""",
            [study_id, timezone.now(), [int(i) for i in image_ids], [float(m) for m in mean], std,
             [int(k) for k in n], [bool(low) for low in low_n]],
        )
