"""What a rater is shown next, and until when they may answer: shared by the fixed design's
service (services.py) and the adaptive one (adaptive.py), so neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import BatchItem, Study


@dataclass
class NextItem:
    item: BatchItem
    served_at: datetime | None
    position: int  # 1-based
    total: int
    view_seconds_left: float
    answer_seconds_left: float


def answer_deadline(study: Study, served_at: datetime) -> datetime:
    return served_at + timedelta(seconds=study.viewing_seconds + study.answer_grace_seconds)
