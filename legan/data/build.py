"""Turn a scanned dataset into a cached, preprocessed LEGAN manifest folder.

out_dir/
  images/<name>.png   aligned S x S face (grey sources stay single-channel PNG)
  masks/<name>.png    landmark-hull mask (255 inside)
  manifest.csv        image_path, subject, expression, lighting, mask_path, source, source_path, landmarks_from
  skipped.csv         source_path, reason, detail (files left out by the scanner or the preprocessing)
  report.json         counts kept / skipped (by reason), class counts, preprocessing backend

Preprocessing runs once: rows whose image and mask already exist are reused unless
force=True. Capture series (SourceRecord.group) detect landmarks on their best-lit
member and align every member with them (see records.SourceRecord).
"""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from faces.errors import FaceAnalysisError
from legan.data.images import read_image, save_image, save_mask
from legan.data.manifest import label_counts, write_manifest
from legan.data.preprocess import DEFAULT_SIZE, full_crop_preprocess
from legan.data.sources.records import ExcludedFile, ScanResult, SourceRecord

MANIFEST_NAME = "manifest.csv"
SKIPPED_NAME = "skipped.csv"
REPORT_NAME = "report.json"
# How many of a series' best-lit images to try before giving the series up (a failed
# HOG detection costs ~30 ms; Yale B subject 18's first detectable image is the 7th).
MAX_REFERENCE_TRIES = 24

MSG_NOTHING_KEPT = "No image of {dataset} survived preprocessing; see {skipped}."

PreprocessFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", type(exc).__name__))


@dataclass
class BuildReport:
    dataset: str
    out_dir: Path
    kept: int
    reused: int
    skipped: dict[str, int]
    expressions: dict[str, int]
    lightings: dict[str, int]
    subjects: int
    preprocess: str
    seconds: float
    manifest_path: Path
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        out["out_dir"] = str(self.out_dir)
        out["manifest_path"] = str(self.manifest_path)
        out.update(self.extra)
        return out


class _Builder:
    def __init__(self, scan: ScanResult, out_dir: Path, preprocessor, size: int, force: bool, progress: bool):
        self.scan = scan
        self.out_dir = out_dir
        self.size = size
        self.force = force
        self.progress = progress
        self.preprocessor = preprocessor
        self.failures = (FaceAnalysisError,)  # unreadable files included (UnreadableImageError)
        self.rows: list[dict] = []
        self.skipped: list[ExcludedFile] = list(scan.excluded)
        self.reused = 0
        previous = out_dir / MANIFEST_NAME
        self.previous_rows: dict[str, dict] = {}
        if previous.is_file() and not force:
            frame = pd.read_csv(previous, dtype=str, keep_default_na=False)
            if "source_path" in frame.columns:
                self.previous_rows = {r["source_path"]: r for r in frame.to_dict("records")}

    # -- paths and rows
    def _outputs(self, record: SourceRecord) -> tuple[Path, Path]:
        return self.out_dir / "images" / f"{record.relative_name}.png", self.out_dir / "masks" / f"{record.relative_name}.png"

    def _row(self, record: SourceRecord, landmarks_from: str) -> dict:
        image_path, mask_path = self._outputs(record)
        return {
            "image_path": image_path.relative_to(self.out_dir).as_posix(),
            "subject": record.subject,
            "expression": record.expression,
            "lighting": record.lighting,
            "mask_path": mask_path.relative_to(self.out_dir).as_posix(),
            "source": self.scan.dataset,
            "source_path": str(record.path),
            "landmarks_from": landmarks_from,
        }

    def _reuse(self, record: SourceRecord) -> bool:
        image_path, mask_path = self._outputs(record)
        previous = self.previous_rows.get(str(record.path))
        if previous is None or not (image_path.is_file() and mask_path.is_file()):
            return False
        self.rows.append(self._row(record, previous.get("landmarks_from", "cached")))
        self.reused += 1
        return True

    def _save(self, record: SourceRecord, image: np.ndarray, mask: np.ndarray, grey: bool, landmarks_from: str):
        image_path, mask_path = self._outputs(record)
        save_image(image_path, image, as_grey=grey)
        save_mask(mask_path, mask)
        self.rows.append(self._row(record, landmarks_from))

    # -- processing
    def process_single(self, record: SourceRecord, bar) -> None:
        bar.update(1)
        if self._reuse(record):
            return
        try:
            image, grey = read_image(record.path)
            if self.scan.preprocess == "full_crop":
                aligned, mask = full_crop_preprocess(image, self.size)
                source = "full_crop"
            else:
                aligned, mask = self.preprocessor(image)
                source = "self"
        except self.failures as exc:
            self.skipped.append(ExcludedFile(record.path, _reason(exc), str(exc)))
            return
        self._save(record, aligned, mask, grey, source)

    def process_series(self, members: list[SourceRecord], bar) -> None:
        pending = [m for m in members if not self._reuse(m)]
        bar.update(len(members) - len(pending))
        if not pending:
            return
        candidates = sorted(members, key=lambda m: m.group_rank)[:MAX_REFERENCE_TRIES]
        landmarks, reference, shape, last_error = None, None, None, None
        for candidate in candidates:
            try:
                image, _ = read_image(candidate.path)
                landmarks = self.preprocessor.detect(image)
                reference, shape = candidate, image.shape
                break
            except self.failures as exc:
                last_error = exc
        for record in pending:
            bar.update(1)
            if landmarks is None:
                detail = f"no face in the {len(candidates)} best-lit image(s) of series {record.group}: {last_error}"
                self.skipped.append(ExcludedFile(record.path, _reason(last_error), detail))
                continue
            try:
                image, grey = read_image(record.path)
                if image.shape != shape:  # not the same camera frame: detect on its own
                    aligned, mask = self.preprocessor(image)
                    source = "self"
                else:
                    aligned, mask = self.preprocessor.align(image, landmarks)
                    source = f"series:{reference.path.name}"
            except self.failures as exc:
                self.skipped.append(ExcludedFile(record.path, _reason(exc), str(exc)))
                continue
            self._save(record, aligned, mask, grey, source)

    def run(self) -> None:
        shares_landmarks = hasattr(self.preprocessor, "detect") and hasattr(self.preprocessor, "align")
        series: dict[str, list[SourceRecord]] = defaultdict(list)
        singles: list[SourceRecord] = []
        for record in self.scan.records:
            if record.group is not None and shares_landmarks and self.scan.preprocess == "landmarks":
                series[record.group].append(record)
            else:
                singles.append(record)
        with tqdm(total=len(self.scan.records), desc=f"preprocess {self.scan.dataset}", disable=not self.progress) as bar:
            for members in series.values():
                self.process_series(members, bar)
            for record in singles:
                self.process_single(record, bar)


def build_manifest(
    scan: ScanResult,
    out_dir: str | Path,
    preprocessor: PreprocessFn | None = None,
    size: int = DEFAULT_SIZE,
    force: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Preprocess every scanned record into out_dir and write manifest / skipped list / report.

    `preprocessor`: a FacePreprocessor (landmark sharing within capture series) or any
    callable image -> (aligned, mask); default FacePreprocessor(size) on faces/' detector.
    """
    started = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if preprocessor is None and scan.preprocess == "landmarks":
        from legan.data.preprocess import FacePreprocessor

        preprocessor = FacePreprocessor(size=size)
    builder = _Builder(scan, out_dir, preprocessor, size, force, progress)
    builder.run()

    skipped_frame = pd.DataFrame(
        [{"source_path": str(s.path), "reason": s.reason, "detail": s.detail} for s in builder.skipped],
        columns=["source_path", "reason", "detail"],
    )
    skipped_frame.to_csv(out_dir / SKIPPED_NAME, index=False)
    if not builder.rows:
        raise RuntimeError(MSG_NOTHING_KEPT.format(dataset=scan.dataset, skipped=out_dir / SKIPPED_NAME))
    frame = pd.DataFrame(builder.rows).sort_values("image_path").reset_index(drop=True)
    manifest_path = write_manifest(frame, out_dir / MANIFEST_NAME)

    if scan.preprocess == "full_crop":
        description = "full_crop (bicubic upscale + ellipse mask)"
    else:
        description = getattr(preprocessor, "description", getattr(preprocessor, "__name__", repr(preprocessor)))
    report = BuildReport(
        dataset=scan.dataset,
        out_dir=out_dir,
        kept=len(frame),
        reused=builder.reused,
        skipped=dict(Counter(s.reason for s in builder.skipped)),
        expressions=label_counts(frame, "expression"),
        lightings=label_counts(frame, "lighting"),
        subjects=int(frame["subject"].nunique()),
        preprocess=description,
        seconds=round(time.time() - started, 1),
        manifest_path=manifest_path,
        extra={"expression_labels": list(scan.expressions), "lighting_labels": list(scan.lightings), "image_size": size},
    )
    (out_dir / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=2))
    return report
