"""The study page's plots, drawn on the server as PNG (matplotlib, no browser library):
the rating histogram, each batch's fill over time, and each rater's agreement with the others."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from django.db.models import Count  # noqa: E402

from .models import Assignment, Rating, Study  # noqa: E402

PLOTS = ("ratings", "fill", "agreement")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _empty(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_ratings(study: Study) -> bytes:
    counts = dict(
        Rating.objects.filter(assignment__batch__study=study, item__gold__isnull=True)
        .values_list("score").annotate(n=Count("id")).values_list("score", "n")
    )
    fig, ax = plt.subplots(figsize=(5, 3))
    if counts:
        ax.bar(range(11), [counts.get(s, 0) for s in range(11)], color="#3a7")
        ax.set_xticks(range(11))
        ax.set_xlabel("score")
        ax.set_ylabel("ratings")
    else:
        _empty(ax, "no ratings yet")
    ax.set_title("Rating histogram")
    return _png(fig)


def plot_fill(study: Study) -> bytes:
    """Submitted raters per batch against time: one step line per batch."""
    rows = list(
        Assignment.objects.filter(batch__study=study, status=Assignment.Status.SUBMITTED)
        .order_by("submitted_at").values_list("batch__index", "submitted_at")
    )
    fig, ax = plt.subplots(figsize=(5, 3))
    if rows:
        by_batch: dict[int, list] = {}
        for index, when in rows:
            by_batch.setdefault(index, []).append(when)
        for index, times in sorted(by_batch.items())[:30]:  # a legend beyond 30 lines helps nobody
            ax.step(times, np.arange(1, len(times) + 1), where="post", label=f"batch {index + 1}")
        ax.axhline(study.raters_per_batch, color="#999", linestyle="--", linewidth=1)
        ax.set_ylim(0, study.raters_per_batch + 0.5)
        ax.set_ylabel("raters submitted")
        fig.autofmt_xdate()
        if len(by_batch) <= 8:
            ax.legend(fontsize=7)
    else:
        _empty(ax, "no batch submitted yet")
    ax.set_title("Per-batch fill over time")
    return _png(fig)


def plot_agreement(study: Study) -> bytes:
    from ratings_site.labels.models import FLAG_MAD, RaterStats

    stats = list(RaterStats.objects.filter(study=study, mad_from_others__isnull=False).order_by("mad_from_others")
                 .values_list("rater_id", "mad_from_others", "flagged"))
    fig, ax = plt.subplots(figsize=(5, 3))
    if stats:
        values = [s[1] for s in stats]
        ax.bar(range(len(stats)), values, color=["#c33" if s[2] else "#37a" for s in stats])
        ax.axhline(FLAG_MAD, color="#c33", linestyle="--", linewidth=1, label=f"flag at {FLAG_MAD}")
        ax.set_xlabel("raters (sorted)")
        ax.set_ylabel("mean |score - others' mean|")
        ax.legend(fontsize=7)
    else:
        _empty(ax, "compute labels to see agreement")
    ax.set_title("Per-rater agreement")
    return _png(fig)


def study_plot_png(study: Study, name: str) -> bytes:
    return {"ratings": plot_ratings, "fill": plot_fill, "agreement": plot_agreement}[name](study)
