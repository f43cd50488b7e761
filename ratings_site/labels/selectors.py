"""Reads for labels: the evidence behind a rater's flag, for the researcher deciding on it."""
from __future__ import annotations

from collections import defaultdict

from django.db.models import Avg, Count

from ratings_site.studies.models import Rating

from .models import RaterExclusion, RaterStats
from .services import ratings_valid_for_labels


def rater_evidence(rater) -> list[dict]:
    """Per study the rater took part in: their stats, every gold check (range, answer, pass)
    and every rated image next to the other raters' mean, largest deviation first."""
    out = []
    for stats in RaterStats.objects.filter(rater=rater).select_related("study").order_by("-study__created_at"):
        study = stats.study
        mine = list(
            Rating.objects.filter(assignment__rater=rater, assignment__batch__study=study)
            .select_related("item__gold", "item__image")
            .order_by("assignment__batch__index", "item__position")
        )
        golds = [
            {"image": r.item.image, "min": r.item.gold.min_score, "max": r.item.gold.max_score, "score": r.score,
             "passed": r.item.gold.min_score <= r.score <= r.item.gold.max_score}
            for r in mine if r.item.gold_id
        ]
        image_ids = [r.item.image_id for r in mine if not r.item.gold_id]
        others = defaultdict(lambda: (None, 0))
        rows = (
            ratings_valid_for_labels(study).filter(item__image_id__in=image_ids, item__gold__isnull=True)
            .exclude(assignment__rater=rater).values("item__image_id").annotate(mean=Avg("score"), n=Count("id"))
        )
        for row in rows:
            others[row["item__image_id"]] = (row["mean"], row["n"])
        deviations = []
        for r in mine:
            if r.item.gold_id:
                continue
            mean, n = others[r.item.image_id]
            deviations.append({"image": r.item.image, "score": r.score, "others_mean": mean, "others_n": n,
                               "deviation": None if mean is None else abs(r.score - mean)})
        deviations.sort(key=lambda d: -1 if d["deviation"] is None else d["deviation"], reverse=True)
        decisions = list(RaterExclusion.objects.filter(study=study, rater=rater).select_related("decided_by"))
        out.append({"study": study, "stats": stats, "golds": golds, "deviations": deviations, "decisions": decisions})
    return out
