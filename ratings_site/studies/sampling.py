"""Which images a study would rate: its sampling rule, balanced across strata."""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from ratings_site.catalog.models import Image

from . import errors
from .models import Study

MISSING = "(missing)"


@dataclass
class Stratum:
    key: tuple
    available: int
    quota: int

    @property
    def short(self) -> int:
        return max(self.quota - self.available, 0)

    @property
    def label(self) -> str:
        return " x ".join(str(v) for v in self.key) or "all"


@dataclass
class SamplePlan:
    image_ids: list[int]
    strata: list[Stratum]
    matched: int
    missing_strata_keys: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def study_candidates(study: Study):
    """Images the rule's filters admit (gold items never count as samples)."""
    qs = Image.objects.all()
    source_ids = list(study.sources.values_list("id", flat=True)) if study.pk else []
    if source_ids:
        qs = qs.filter(source_id__in=source_ids)
    for key, wanted in (study.metadata_filter or {}).items():
        if isinstance(wanted, list):
            qs = qs.filter(**{f"metadata__{key}__in": wanted})
        else:
            qs = qs.filter(**{f"metadata__{key}": wanted})
    if study.pk:
        qs = qs.exclude(id__in=study.gold_items.values("image_id"))
    return qs


def _quotas(size: int, n: int) -> list[int]:
    base, extra = divmod(size, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def study_sample_plan(study: Study) -> SamplePlan:
    rows = list(study_candidates(study).order_by("id").values_list("id", "metadata"))
    keys = list(study.strata or [])
    groups: dict[tuple, list[int]] = defaultdict(list)
    missing = 0
    for image_id, metadata in rows:
        metadata = metadata or {}
        if any(k not in metadata for k in keys):
            missing += 1
            continue
        groups[tuple(str(metadata[k]) for k in keys)].append(image_id)

    plan = SamplePlan(image_ids=[], strata=[], matched=len(rows), missing_strata_keys=missing)
    size = study.sample_size
    if not study.adaptive and size < study.n_batches:
        plan.problems.append(errors.SAMPLE_TOO_SMALL_FOR_BATCHES.format(size=size, batches=study.n_batches))
    if not groups:
        plan.problems.append(errors.SAMPLE_EMPTY)
        return plan
    ordered = sorted(groups)
    quotas = _quotas(size, len(ordered))
    plan.strata = [Stratum(key, len(groups[key]), quota) for key, quota in zip(ordered, quotas)]
    available = sum(len(v) for v in groups.values())
    if available < size:
        plan.problems.append(errors.SAMPLE_SHORT_TOTAL.format(available=available, needed=size, short=size - available))
    short = [s for s in plan.strata if s.short]
    if short and keys:
        details = "; ".join(f"{s.label} has {s.available}, short by {s.short}" for s in short)
        plan.problems.append(errors.SAMPLE_SHORT_STRATA.format(quota=max(quotas), details=details))
    if plan.problems:
        return plan
    rng = random.Random(study.seed)
    for stratum in plan.strata:
        plan.image_ids.extend(rng.sample(groups[stratum.key], stratum.quota))
    rng.shuffle(plan.image_ids)
    return plan
