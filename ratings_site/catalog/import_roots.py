"""Which server folders a web user may import from.

One job: the admin's folder and manifest imports read the server's disk, so a staff account
could otherwise list any folder it names (`/etc`) in the import report. Web imports are limited
to the folders in settings.IMAGE_IMPORT_ROOTS (env IMAGE_IMPORT_ROOTS, comma-separated);
paths are resolved first, so `..` and symlinks cannot step outside. The command line
(`manage.py import_images`) is for people with a shell on the server and is not limited.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from . import errors


def import_roots() -> list[Path]:
    return [Path(r).resolve() for r in getattr(settings, "IMAGE_IMPORT_ROOTS", [])]


def path_within(path: str | Path, roots: list[Path]) -> bool:
    resolved = Path(path).resolve()
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)


def path_check_importable(path: str | Path, roots: list[Path] | None) -> None:
    """Raise ValidationError unless `path` lies in one of `roots` (None: not limited)."""
    if roots is None:
        return
    if not roots:
        raise ValidationError(errors.NO_IMPORT_ROOTS)
    if not path_within(path, roots):
        raise ValidationError(errors.OUTSIDE_IMPORT_ROOTS.format(path=path, roots=", ".join(map(str, roots))))
