"""Reads about trained models: which Q and which LEGAN version is the current one."""
from __future__ import annotations

from .models import LeganModelVersion, QualityModelVersion


def quality_version_current() -> QualityModelVersion | None:
    return QualityModelVersion.objects.filter(is_current=True).first()


def legan_version_current() -> LeganModelVersion | None:
    return LeganModelVersion.objects.filter(is_current=True).first()
