"""Manifest CSV: the one table a LEGAN data folder is described by.

Columns: image_path, subject, expression, lighting (+ optional mask_path).
Paths are relative to the manifest's folder (absolute paths are kept as is).
Extra columns (source, source_path, ...) are allowed and carried along.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

REQUIRED_COLUMNS = ("image_path", "subject", "expression", "lighting")
OPTIONAL_COLUMNS = ("mask_path",)

MSG_NOT_FOUND = "Manifest not found: {path}"
MSG_UNREADABLE = "Manifest {path} is not a readable CSV file: {error}"
MSG_EMPTY = "Manifest {path} has no rows."
MSG_MISSING_COLUMNS = "Manifest {path} lacks required column(s) {missing}; it must have {required}."
MSG_BLANK_VALUES = "Manifest {path}: column '{column}' is empty in row(s) {rows}."
MSG_UNKNOWN_LABELS = (
    "Manifest {path}: unknown {kind} label(s) {labels} (rows {rows}); known {kind} labels are {known}."
)
MSG_MISSING_FILES = "Manifest {path}: {count} {column} file(s) do not exist, e.g. {examples}."


class ManifestError(ValueError):
    """A manifest that cannot be used, with a message that says why."""


def _row_list(index: Iterable[int], limit: int = 5) -> str:
    # Rows are reported 1-based as in a spreadsheet, header excluded.
    rows = [int(i) + 1 for i in index]
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" (+{len(rows) - limit} more)" if len(rows) > limit else "")


def resolve_path(manifest_dir: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else manifest_dir / path


def read_manifest(
    path: str | Path,
    expressions: Sequence[str] | None = None,
    lightings: Sequence[str] | None = None,
    check_files: bool = True,
) -> pd.DataFrame:
    """Read and validate a manifest; raise ManifestError with a clear message on bad input.

    `expressions` / `lightings`: when given, every label must be one of them.
    The returned frame has string columns and a fresh 0..N-1 index.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(MSG_NOT_FOUND.format(path=path))
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ManifestError(MSG_UNREADABLE.format(path=path, error=exc)) from exc

    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ManifestError(
            MSG_MISSING_COLUMNS.format(path=path, missing=missing, required=list(REQUIRED_COLUMNS))
        )
    if frame.empty:
        raise ManifestError(MSG_EMPTY.format(path=path))
    frame = frame.reset_index(drop=True)
    for column in REQUIRED_COLUMNS:
        frame[column] = frame[column].str.strip()
        blank = frame.index[frame[column] == ""]
        if len(blank):
            raise ManifestError(MSG_BLANK_VALUES.format(path=path, column=column, rows=_row_list(blank)))

    for kind, column, known in (("expression", "expression", expressions), ("lighting", "lighting", lightings)):
        if known is None:
            continue
        bad = ~frame[column].isin(list(known))
        if bad.any():
            labels = sorted(frame.loc[bad, column].unique().tolist())
            raise ManifestError(
                MSG_UNKNOWN_LABELS.format(
                    path=path, kind=kind, labels=labels, rows=_row_list(frame.index[bad]), known=list(known)
                )
            )

    if check_files:
        base = path.parent
        for column in ("image_path", "mask_path"):
            if column not in frame.columns:
                continue
            values = [v for v in frame[column] if v != "" or column == "image_path"]
            absent = [v for v in values if not resolve_path(base, v).is_file()]
            if absent:
                raise ManifestError(
                    MSG_MISSING_FILES.format(path=path, count=len(absent), column=column, examples=absent[:3])
                )
    return frame


def write_manifest(rows: pd.DataFrame | Sequence[dict], path: str | Path) -> Path:
    """Write rows (dicts or a frame) as a manifest CSV; required columns first."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ManifestError(
            MSG_MISSING_COLUMNS.format(path=path, missing=missing, required=list(REQUIRED_COLUMNS))
        )
    ordered = list(REQUIRED_COLUMNS) + [c for c in frame.columns if c not in REQUIRED_COLUMNS]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame[ordered].to_csv(path, index=False)
    return path


def label_counts(frame: pd.DataFrame, column: str) -> dict[str, int]:
    """Class histogram, most frequent first (for reports)."""
    return {str(k): int(v) for k, v in frame[column].value_counts().items()}


def classes_of(manifests: Sequence[str | Path]) -> tuple[list[str], list[str]]:
    """The expression and lighting names the manifests hold, each sorted."""
    frames = [read_manifest(m, check_files=False) for m in manifests]
    return (sorted({str(v) for f in frames for v in f["expression"]}),
            sorted({str(v) for f in frames for v in f["lighting"]}))


def combine_manifests(paths: Sequence[str | Path], out_path: str | Path) -> pd.DataFrame:
    """Concatenate manifests (e.g. yale_a + jaffe) into one, rewriting paths relative to out_path's folder."""
    import os

    out_path = Path(out_path)
    frames = []
    for path in paths:
        path = Path(path)
        frame = read_manifest(path, check_files=False)
        for column in ("image_path", "mask_path"):
            if column in frame.columns:
                frame[column] = [
                    os.path.relpath(resolve_path(path.parent, v).resolve(), out_path.parent.resolve()) if v else ""
                    for v in frame[column]
                ]
        frames.append(frame)
    combined = pd.concat(frames, ignore_index=True).fillna("")
    write_manifest(combined, out_path)
    return combined
