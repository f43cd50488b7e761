"""Read and validate the platform's label export (schema: notes/contracts.md).

Columns: image_path (str, relative paths resolve against ``images_root``, default the export's
folder), mean (float, 0-10), std (float, >= 0), and optionally n_raters, source, subject, image_id.
The platform's export uses these names (as its API does); the simulator's and older exports'
mu / sigma / n are read as the same columns. Inside this package they are mu and sigma.
Extra columns are kept but ignored. Every problem raises LabelExportError with a message that
names the file, the column and the offending rows (as 1-based data rows after the header).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("image_path", "mu", "sigma")
OPTIONAL_COLUMNS = ("n", "source", "subject", "image_id")
RATING_MIN, RATING_MAX = 0.0, 10.0
MAX_LISTED = 10

EXPORT_NOT_FOUND = "Label export {path} does not exist"
EXPORT_BAD_SUFFIX = "Label export {path} must be a .csv or .parquet file"
EXPORT_UNREADABLE = "Label export {path} could not be parsed as {kind}: {reason}"
EXPORT_EMPTY = "Label export {path} has no rows"
MISSING_COLUMNS = "Label export {path} lacks required column(s): {columns} (has: {present})"
EMPTY_PATHS = "Label export {path}: column image_path is empty in rows {rows}"
NOT_NUMERIC = "Label export {path}: column {column} is not numeric in rows {rows} (values: {values})"
SIGMA_NEGATIVE = "Label export {path}: sigma is negative in rows {rows}"
MU_OUT_OF_RANGE = "Label export {path}: mu must lie in [0, 10]; rows {rows} have {values}"
MISSING_IMAGES = ("Label export {path}: {count} image file(s) not found under {root}: {files}. Relative paths resolve "
                  "against --images-root (a platform export's paths are relative to its MEDIA_ROOT, var/media in the demo)")


class LabelExportError(ValueError):
    """The label export cannot be used; the message says why and where."""


def _rows(mask: pd.Series) -> str:
    idx = [int(i) + 1 for i in np.flatnonzero(mask.to_numpy())]
    shown = ", ".join(map(str, idx[:MAX_LISTED]))
    return shown + (f" ... ({len(idx)} rows)" if len(idx) > MAX_LISTED else "")


def read_export(path: str | os.PathLike) -> pd.DataFrame:
    """Read CSV or Parquet into a DataFrame, turning parser failures into LabelExportError."""
    path = Path(path)
    if not path.is_file():
        raise LabelExportError(EXPORT_NOT_FOUND.format(path=path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, dtype={"image_path": str, "source": str, "subject": str})
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            raise LabelExportError(EXPORT_BAD_SUFFIX.format(path=path))
    except LabelExportError:
        raise
    except pd.errors.EmptyDataError:
        raise LabelExportError(EXPORT_EMPTY.format(path=path)) from None
    except Exception as err:  # parser errors differ between pandas/pyarrow versions
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise LabelExportError(EXPORT_UNREADABLE.format(
            path=path, kind=kind, reason=f"{type(err).__name__}: {err}")) from None
    return df


def _numeric(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.fillna(0.0))
    if bad.any():
        shown = [repr(v) for v in df.loc[bad, column].head(MAX_LISTED)]
        raise LabelExportError(NOT_NUMERIC.format(path=path, column=column, rows=_rows(bad),
                                                  values=", ".join(shown)))
    return values.astype(np.float64)


# The platform's words -> the names the model code uses (one export may not carry both).
COLUMN_ALIASES = {"mean": "mu", "std": "sigma", "n_raters": "n"}


def validate_export(df: pd.DataFrame, path: str | os.PathLike,
                    images_root: str | os.PathLike | None = None,
                    check_files: bool = True) -> pd.DataFrame:
    """Check the schema and values; return a clean frame with an absolute ``path`` column."""
    path = Path(path)
    df = df.rename(columns={k: v for k, v in COLUMN_ALIASES.items() if k in df.columns and v not in df.columns})
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise LabelExportError(MISSING_COLUMNS.format(
            path=path, columns=", ".join(missing), present=", ".join(map(str, df.columns)) or "none"))
    if len(df) == 0:
        raise LabelExportError(EXPORT_EMPTY.format(path=path))
    df = df.reset_index(drop=True).copy()

    image_path = df["image_path"].astype("string").str.strip()
    empty = image_path.isna() | (image_path == "")
    if empty.any():
        raise LabelExportError(EMPTY_PATHS.format(path=path, rows=_rows(empty)))
    df["image_path"] = image_path.astype(str)

    df["mu"] = _numeric(df, "mu", path)
    df["sigma"] = _numeric(df, "sigma", path)
    negative = df["sigma"] < 0
    if negative.any():
        raise LabelExportError(SIGMA_NEGATIVE.format(path=path, rows=_rows(negative)))
    out = (df["mu"] < RATING_MIN) | (df["mu"] > RATING_MAX)
    if out.any():
        values = ", ".join(f"{v:g}" for v in df.loc[out, "mu"].head(MAX_LISTED))
        raise LabelExportError(MU_OUT_OF_RANGE.format(path=path, rows=_rows(out), values=values))

    # Optional columns: defaults that make grouping and stratification well defined.
    if "source" not in df.columns:
        df["source"] = "unknown"
    df["source"] = df["source"].fillna("unknown").astype(str)
    if "subject" not in df.columns:
        df["subject"] = None
    df["subject"] = df["subject"].astype(object).where(df["subject"].notna(), None)
    if "n" in df.columns:
        df["n"] = _numeric(df, "n", path).astype(int)

    root = Path(images_root) if images_root is not None else path.parent
    df["path"] = [str(p if p.is_absolute() else root / p) for p in map(Path, df["image_path"])]
    if check_files:
        absent = [p for p in df["path"] if not os.path.isfile(p)]
        if absent:
            files = ", ".join(absent[:MAX_LISTED]) + (" ..." if len(absent) > MAX_LISTED else "")
            raise LabelExportError(MISSING_IMAGES.format(path=path, count=len(absent), root=root,
                                                         files=files))
    return df


def load_labels(path: str | os.PathLike, images_root: str | os.PathLike | None = None,
                check_files: bool = True) -> pd.DataFrame:
    """Read + validate a label export. Adds column ``path`` (absolute image path)."""
    return validate_export(read_export(path), path, images_root, check_files)
