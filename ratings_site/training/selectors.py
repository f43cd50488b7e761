"""Reads about trained models: the current Q and LEGAN versions, and the version a job made."""
from __future__ import annotations

from .models import LeganModelVersion, QualityModelVersion


def quality_version_current() -> QualityModelVersion | None:
    return QualityModelVersion.objects.filter(is_current=True).first()


def legan_version_current() -> LeganModelVersion | None:
    return LeganModelVersion.objects.filter(is_current=True).first()


def quality_version_made_by(job) -> QualityModelVersion | None:
    """The Q version a training job made; None while it runs or when it made none."""
    return QualityModelVersion.objects.filter(job=job).first()


def legan_version_made_by(job) -> LeganModelVersion | None:
    """The LEGAN version a training job made; None while it runs or when it made none."""
    return LeganModelVersion.objects.filter(job=job).first()
