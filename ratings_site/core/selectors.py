"""Reads that several apps make the same way."""
from django.db.models import Max, QuerySet


def number_next(rows: QuerySet, field: str = "number") -> int:
    """The next number of a sequence kept in `field` (a model's version number, an image's
    place in its adaptive pool): one past the highest of `rows`, 1 for the first.

    Not a lock (Django drops FOR UPDATE from an aggregate): two writers can read the same
    number, so a unique constraint on the column must refuse the second."""
    return (rows.aggregate(n=Max(field))["n"] or 0) + 1
