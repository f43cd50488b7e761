"""Reads for studies: progress per batch, counts for list pages, what a task asks of a rater."""
import math
from dataclasses import dataclass

from django.db.models import Count, Q

from .models import Assignment, Batch, BatchItem, Rating, Study


def batches_progress(study: Study) -> list[dict]:
    """Per batch: ratings done / needed, and raters submitted / active."""
    items = dict(
        BatchItem.objects.filter(batch__study=study).values_list("batch_id").annotate(n=Count("id")).values_list("batch_id", "n")
    )
    done = dict(
        Rating.objects.filter(assignment__batch__study=study, assignment__status__in=[Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED])
        .values_list("assignment__batch_id")
        .annotate(n=Count("id"))
        .values_list("assignment__batch_id", "n")
    )
    batches = Batch.objects.filter(study=study).annotate(
        submitted=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED)),
        active=Count("assignments", filter=Q(assignments__status=Assignment.Status.ACTIVE)),
    )
    rows = []
    for batch in batches:
        needed = items.get(batch.pk, 0) * study.raters_per_batch
        rows.append(
            {"batch": batch, "number": batch.number, "ratings_done": done.get(batch.pk, 0), "ratings_needed": needed,
             "submitted": batch.submitted, "active": batch.active}
        )
    return rows


def studies_with_progress():
    return Study.objects.annotate(
        batch_count=Count("batches", distinct=True),
        submitted_count=Count(
            "batches__assignments", filter=Q(batches__assignments__status=Assignment.Status.SUBMITTED), distinct=True
        ),
    )


def planned_batch_sizes(study: Study) -> dict[int, int]:
    """Images (or lineups) per batch index: the real batches when built, else what the launch will build."""
    if study.adaptive:  # filled while rated: the slots the budget gives each batch, and the gold items
        from .adaptive import batch_slots

        golds = study.gold_items.count() if study.pk else 0
        return {i: batch_slots(study, i) + golds for i in range(study.n_batches)}
    held = "lineups" if hasattr(study, "lineup") else "items"  # a lineup study's batches hold lineups
    built = dict(Batch.objects.filter(study=study).annotate(n=Count(held)).values_list("index", "n"))
    if built:
        return built
    golds = study.gold_items.count() if study.pk else 0
    n = study.n_batches
    return {i: len(range(i, study.sample_size, n)) + golds for i in range(n)}


@dataclass(frozen=True)
class TaskSummary:
    """What one rater's task is, in the words every page uses (one source of truth)."""

    images_per_task: int  # the largest batch: a rater rates one batch
    n_batches: int
    raters_per_batch: int
    expected_minutes: int
    minutes_estimated: bool

    @property
    def places(self) -> int:
        """How many raters the whole study takes."""
        return self.n_batches * self.raters_per_batch

    @property
    def for_raters(self) -> str:
        return f"{self.images_per_task} images, about {self.expected_minutes} min"

    @property
    def for_researchers(self) -> str:
        return (
            f"{self.n_batches} batch{'es' if self.n_batches != 1 else ''} of up to {self.images_per_task} images; "
            f"each batch rated by {self.raters_per_batch} rater{'s' if self.raters_per_batch != 1 else ''} "
            f"({self.places} rater places); one rater rates one batch"
        )


def study_task_summary(study: Study) -> TaskSummary:
    images = max(planned_batch_sizes(study).values(), default=1) or 1
    # Upper bound: every image viewed for its whole window.
    estimate = max(1, math.ceil(images * study.viewing_seconds / 60))
    return TaskSummary(
        images_per_task=images, n_batches=study.n_batches, raters_per_batch=study.raters_per_batch,
        expected_minutes=study.expected_minutes or estimate, minutes_estimated=not study.expected_minutes,
    )


def study_is_full(study: Study) -> bool:
    """True when every batch has all its raters (working or done): a newcomer would get nothing."""
    taken = Count("assignments", filter=Q(assignments__status__in=[Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED]))
    batches = Batch.objects.filter(study=study)
    return batches.exists() and not batches.annotate(taken=taken).filter(taken__lt=study.raters_per_batch).exists()


def study_live(study: Study) -> dict:
    """What the study page refreshes while it is open: status, fill, batches, latest jobs."""
    from ratings_site.jobs.models import Job

    study.refresh_from_db(fields=["status", "completed_at", "agreement"])
    batches = batches_progress(study)
    submitted = sum(b["submitted"] for b in batches)
    jobs = Job.objects.filter(study=study).order_by("-created_at")[:5]
    alpha = (study.agreement or {}).get("krippendorff_alpha_interval")
    return {
        "status": study.status,
        "raters_submitted": submitted,
        "raters_needed": len(batches) * study.raters_per_batch,
        "ratings_done": sum(b["ratings_done"] for b in batches),
        "ratings_needed": sum(b["ratings_needed"] for b in batches),
        "alpha": None if alpha is None else round(alpha, 3),
        "batches": [{k: b[k] for k in ("number", "ratings_done", "ratings_needed", "submitted", "active")} for b in batches],
        "jobs": [{"id": j.pk, "kind": j.get_kind_display(), "status": j.status, "done": j.progress_done, "total": j.progress_total}
                 for j in jobs],
    }
