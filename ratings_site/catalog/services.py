"""Importing images: from a folder, a zip, or a CSV manifest.

Each file imports on its own: a bad file is reported with its reason and the rest go on.
A file is written to storage before its row; if the row fails the stored file is removed,
so a failure never leaves half an image behind.
"""
from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from . import errors
from .import_roots import path_check_importable
from .models import Image, ImportRun, Source
from .upload_checks import MIN_SIDE, image_check, limit, zip_member_read, zip_members_check  # noqa: F401
MANIFEST_REQUIRED = ("path", "source")
MANIFEST_RESERVED = {"path", "source", "subject"}


@dataclass
class FileOutcome:
    name: str
    status: str  # imported | duplicate | failed
    reason: str = ""
    image_id: int | None = None


@dataclass
class ImportOutcome:
    run: ImportRun
    files: list[FileOutcome] = field(default_factory=list)


def image_content_check(data: bytes) -> tuple[int, int, str]:
    """Return (width, height, format) or raise ValidationError with the reason."""
    checked = image_check(data)
    return checked.width, checked.height, checked.format


def image_create(
    *, name: str, data: bytes, source: Source, subject: str = "", metadata: dict | None = None
) -> FileOutcome:
    digest = hashlib.sha256(data).hexdigest()
    existing = Image.objects.filter(sha256=digest).only("id").first()
    if existing:
        return FileOutcome(name, "duplicate", errors.DUPLICATE.format(image_id=existing.id), existing.id)
    try:
        checked = image_check(data)
    except ValidationError as exc:
        return FileOutcome(name, "failed", exc.messages[0])
    width, height = checked.width, checked.height
    # The suffix comes from the decoded format, never the uploaded name (stored XSS: a PNG
    # named evil.html would otherwise be served as text/html from the site's origin).
    stored_name = default_storage.save(f"images/{digest[:2]}/{digest}{checked.suffix}", ContentFile(data))
    try:
        with transaction.atomic():
            image = Image.objects.create(
                file=stored_name,
                sha256=digest,
                source=source,
                original_name=name[:500],
                width=width,
                height=height,
                subject=subject[:200],
                metadata=metadata or {},
            )
    except IntegrityError:
        # Another import stored the same content a moment ago.
        default_storage.delete(stored_name)
        existing = Image.objects.get(sha256=digest)
        return FileOutcome(name, "duplicate", errors.DUPLICATE.format(image_id=existing.id), existing.id)
    except Exception:
        default_storage.delete(stored_name)
        raise
    return FileOutcome(name, "imported", "", image.id)


def _run_finish(run: ImportRun, files: list[FileOutcome]) -> ImportOutcome:
    """Save the run once, with its report: an import that crashes leaves no empty run row."""
    run.imported = sum(f.status == "imported" for f in files)
    run.duplicates = sum(f.status == "duplicate" for f in files)
    run.failed = sum(f.status == "failed" for f in files)
    run.report = [f.__dict__ for f in files]
    run.save()
    return ImportOutcome(run=run, files=files)


def _file_read(path: Path, name: str) -> bytes | FileOutcome:
    """The file's bytes, or a failed outcome when it is too large to read."""
    max_bytes = limit("IMPORT_MAX_FILE_BYTES")
    size = path.stat().st_size
    if size > max_bytes:
        return FileOutcome(name, "failed", errors.FILE_TOO_LARGE.format(size=size, maximum=max_bytes))
    return path.read_bytes()


def images_import_folder(
    *, folder: str | Path, source: Source, user=None, roots: list[Path] | None = None
) -> ImportOutcome:
    """`roots`: the folders a web user may read (None: not limited, for the command line)."""
    path_check_importable(folder, roots)
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError(errors.FOLDER_MISSING.format(path=folder))
    run = ImportRun(kind=ImportRun.Kind.FOLDER, origin=str(folder), default_source=source, created_by=user)
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.name.startswith("."):
            continue
        try:
            path_check_importable(path, roots)  # a symlink inside the root may point outside it
        except ValidationError as exc:
            files.append(FileOutcome(name, "failed", exc.messages[0]))
            continue
        data = _file_read(path, name)
        files.append(data if isinstance(data, FileOutcome) else image_create(name=name, data=data, source=source))
    return _run_finish(run, files)


def images_import_zip(*, archive, source: Source, origin: str = "upload.zip", user=None) -> ImportOutcome:
    """`archive` is a path or a binary file object."""
    try:
        zf = zipfile.ZipFile(archive)
        members = [m for m in zf.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(errors.ZIP_UNREADABLE.format(detail=exc))
    with zf:
        zip_members_check(members)
        run = ImportRun(kind=ImportRun.Kind.ZIP, origin=origin, default_source=source, created_by=user)
        files = []
        # Member names are only reported, never used as paths: stored names come from the
        # content's hash, so `../../x` (zip-slip) cannot write outside the media folder.
        budget_left = limit("IMPORT_MAX_ZIP_TOTAL_BYTES")
        for member in sorted(members, key=lambda m: m.filename):
            base = Path(member.filename).name
            if base.startswith(".") or member.filename.startswith("__MACOSX/"):
                continue
            try:
                data = zip_member_read(zf, member, budget_left=budget_left)
            except ValidationError as exc:
                files.append(FileOutcome(member.filename, "failed", exc.messages[0]))
                continue
            except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
                files.append(FileOutcome(member.filename, "failed", errors.NOT_AN_IMAGE.format(detail=exc)))
                continue
            budget_left -= len(data)
            files.append(image_create(name=member.filename, data=data, source=source))
    return _run_finish(run, files)


@dataclass
class ManifestRow:
    line: int
    path: str
    source: str
    subject: str
    metadata: dict


def manifest_parse(text: str) -> list[ManifestRow]:
    """Check the manifest's shape as a whole before importing anything."""
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in (reader.fieldnames or [])]
        rows = list(reader)
    except csv.Error as exc:
        raise ValidationError(errors.MANIFEST_UNREADABLE.format(detail=exc))
    missing = [c for c in MANIFEST_REQUIRED if c not in header]
    if missing:
        raise ValidationError(errors.MANIFEST_MISSING_COLUMNS.format(columns=", ".join(missing)))
    if not rows:
        raise ValidationError(errors.MANIFEST_EMPTY)
    parsed = []
    for number, raw in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        metadata = {k: v for k, v in row.items() if k not in MANIFEST_RESERVED and v != ""}
        parsed.append(ManifestRow(number, row["path"], row["source"], row.get("subject", ""), metadata))
    return parsed


def images_import_manifest(
    *, manifest: str | Path, base_dir: str | Path | None = None, user=None, roots: list[Path] | None = None
) -> ImportOutcome:
    """`roots`: the folders a web user may read, the manifest and every row (None: not limited)."""
    path_check_importable(manifest, roots)
    manifest = Path(manifest)
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(errors.MANIFEST_UNREADABLE.format(detail=exc))
    rows = manifest_parse(text)
    base = Path(base_dir) if base_dir else manifest.parent
    sources = {}
    for s in Source.objects.all():
        sources[s.slug.lower()] = s
        sources[s.name.lower()] = s
    run = ImportRun(kind=ImportRun.Kind.MANIFEST, origin=str(manifest), created_by=user)
    files = []
    for row in rows:
        source = sources.get(row.source.lower())
        if source is None:
            files.append(FileOutcome(row.path, "failed", errors.UNKNOWN_SOURCE.format(source=row.source)))
            continue
        path = Path(row.path)
        path = path if path.is_absolute() else base / path
        try:
            path_check_importable(path, roots)  # checked before existence: no probing outside
        except ValidationError as exc:
            files.append(FileOutcome(row.path, "failed", exc.messages[0]))
            continue
        if not path.is_file():
            files.append(FileOutcome(row.path, "failed", errors.MISSING_FILE.format(path=row.path)))
            continue
        data = _file_read(path, row.path)
        if isinstance(data, FileOutcome):
            files.append(data)
            continue
        files.append(image_create(name=row.path, data=data, source=source, subject=row.subject, metadata=row.metadata))
    return _run_finish(run, files)
