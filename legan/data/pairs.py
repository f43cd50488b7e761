"""Evaluation sets: a subject-disjoint split and the (input, target image) pairs of its test side.

The paper compares each synthesised image with "the corresponding target image": the same
subject photographed with the target expression and lighting. For every held-out subject we
take one canonical image per (expression, lighting) the subject was photographed in; each
canonical image is an input, and every *other* condition of the same subject is a target.

    evalset/
      train.csv  val.csv  test.csv     manifests (paths relative to evalset/)
      pairs_val.csv  pairs_test.csv    pair_id, subject, input_path, target_path,
                                       input_expression, input_lighting,
                                       target_expression, target_lighting
      evalset.json                     subjects per split, counts, content hash

Subjects are split three ways: training (the GANs, the attribute classifier), validation (the
held-out batch watched during training, and any choice of settings) and test (reported once).
The content hash covers the split and the bytes of every image, so two runs that print the
same hash compared like with like.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from legan.data.manifest import read_manifest, resolve_path, write_manifest
from legan.data.sources import yale_b

PAIR_COLUMNS = ("pair_id", "subject", "input_path", "target_path", "input_expression", "input_lighting",
                "target_expression", "target_lighting")
SPLITS = ("train", "val", "test")
EVALSET_NAME = "evalset.json"

MSG_TOO_FEW_SUBJECTS = ("an evaluation set needs at least 3 subjects (train, val, test); the manifest "
                        "has {count}")
MSG_NO_PAIRS = ("the {split} split has no pairs: none of its {subjects} subject(s) was photographed in two "
                "of the requested conditions, so no output can be compared with a real target")
MSG_NOT_AN_EVALSET = "{path} is not an evaluation set folder (no {name}); build one with legan.evaluate --build-evalset"


class EvalSetError(ValueError):
    """An evaluation set that cannot be built or read; the message says why."""


def canonical_rank(row: pd.Series) -> float:
    """Lower is more canonical. Extended Yale B: the angular distance of the light from its bin's
    canonical direction (e.g. 'left' = azimuth +50, elevation 0), so every subject's 'left'
    target is lit the same way; other sources have one image per condition or no such order."""
    source = str(row.get("source", ""))
    if source == yale_b.DATASET:
        fields = yale_b.parse_name(Path(str(row.get("source_path", ""))).name)
        if fields and fields["azimuth"] is not None:
            azimuth, elevation = yale_b.CANONICAL_DIRECTIONS[row["lighting"]]
            return float(np.hypot(fields["azimuth"] - azimuth, fields["elevation"] - elevation))
    return 0.0


def canonical_images(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (subject, expression, lighting): the most canonical image, ties by path."""
    ranked = frame.assign(_rank=[canonical_rank(row) for _, row in frame.iterrows()])
    ranked = ranked.sort_values(["subject", "expression", "lighting", "_rank", "image_path"])
    return ranked.drop_duplicates(["subject", "expression", "lighting"]).drop(columns="_rank").reset_index(drop=True)


def build_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Every canonical image of a subject paired with each other condition of that subject."""
    rows = []
    for subject, group in canonical_images(frame).groupby("subject", sort=True):
        records = group.to_dict("records")
        for source in records:
            for target in records:
                if (source["expression"], source["lighting"]) == (target["expression"], target["lighting"]):
                    continue
                rows.append({"subject": subject, "input_path": source["image_path"],
                             "target_path": target["image_path"],
                             "input_expression": source["expression"], "input_lighting": source["lighting"],
                             "target_expression": target["expression"], "target_lighting": target["lighting"]})
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS[1:])
    pairs.insert(0, "pair_id", [f"p{i:05d}" for i in range(len(pairs))])
    return pairs


def split_subjects(subjects: Sequence[str], test_fraction: float, val_fraction: float,
                   seed: int) -> dict[str, tuple[str, ...]]:
    """A seeded permutation of the sorted subjects: test first, then validation, the rest trains."""
    subjects = sorted(set(subjects))
    if len(subjects) < 3:
        raise EvalSetError(MSG_TOO_FEW_SUBJECTS.format(count=len(subjects)))
    n_test = min(max(1, round(test_fraction * len(subjects))), len(subjects) - 2)
    n_val = min(max(1, round(val_fraction * len(subjects))), len(subjects) - n_test - 1)
    order = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    return {"test": tuple(sorted(order[:n_test])), "val": tuple(sorted(order[n_test:n_test + n_val])),
            "train": tuple(sorted(order[n_test + n_val:]))}


def split_by_dataset(frame: pd.DataFrame, test_fraction: float, val_fraction: float,
                     seed: int) -> dict[str, tuple[str, ...]]:
    """Split each source dataset's subjects on its own, so every dataset is in every split."""
    parts: dict[str, list[str]] = {name: [] for name in SPLITS}
    sources = frame["source"] if "source" in frame.columns else pd.Series([""] * len(frame))
    for _, group in frame.groupby(sources.values, sort=True):
        for name, subjects in split_subjects(group["subject"].tolist(), test_fraction, val_fraction, seed).items():
            parts[name] += subjects
    return {name: tuple(sorted(subjects)) for name, subjects in parts.items()}


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def content_hash(splits: dict[str, pd.DataFrame], root: Path) -> str:
    """sha256 over (split, subject, labels, image bytes) of every row, in a fixed order."""
    h = hashlib.sha256()
    for name in SPLITS:
        frame = splits[name].sort_values("image_path")
        for row in frame.itertuples(index=False):
            h.update(f"{name}|{row.subject}|{row.expression}|{row.lighting}|".encode())
            h.update(file_digest(resolve_path(root, row.image_path)).encode())
    return h.hexdigest()


def _relative_to(frame: pd.DataFrame, src_root: Path, out_dir: Path, columns: Sequence[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            frame[column] = [os.path.relpath(resolve_path(src_root, v).resolve(), out_dir.resolve()) if v else ""
                             for v in frame[column]]
    return frame


@dataclass(frozen=True)
class EvalSet:
    root: Path
    expressions: tuple[str, ...]
    lightings: tuple[str, ...]
    subjects: dict[str, tuple[str, ...]]
    content_hash: str

    def manifest(self, split: str) -> Path:
        return self.root / f"{split}.csv"

    def pairs_path(self, split: str) -> Path:
        return self.root / f"pairs_{split}.csv"

    def pairs(self, split: str = "test") -> pd.DataFrame:
        return pd.read_csv(self.pairs_path(split), dtype=str, keep_default_na=False)


def build_evalset(manifest: str | Path, out_dir: str | Path, *, expressions: Sequence[str],
                  lightings: Sequence[str], test_fraction: float = 0.15, val_fraction: float = 0.1,
                  seed: int = 0) -> EvalSet:
    """Split `manifest` by subject (per source dataset), pair the val and test subjects' images,
    and write everything to `out_dir`. Raises EvalSetError when a split has no pairs."""
    manifest = Path(manifest)
    frame = read_manifest(manifest, expressions, lightings, check_files=True)
    subjects = split_by_dataset(frame, test_fraction, val_fraction, seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = {name: _relative_to(frame[frame["subject"].isin(subjects[name])], manifest.parent, out_dir,
                                 ("image_path", "mask_path")).reset_index(drop=True) for name in SPLITS}
    pair_frames = {}
    for name in ("val", "test"):
        pair_frames[name] = build_pairs(splits[name])
        if pair_frames[name].empty:
            raise EvalSetError(MSG_NO_PAIRS.format(split=name, subjects=len(subjects[name])))
    digest = content_hash(splits, out_dir)
    for name in SPLITS:
        write_manifest(splits[name], out_dir / f"{name}.csv")
    for name, pairs in pair_frames.items():
        pairs.to_csv(out_dir / f"pairs_{name}.csv", index=False)
    meta = {"source_manifest": str(manifest.resolve()), "expressions": list(expressions),
            "lightings": list(lightings), "seed": seed, "test_fraction": test_fraction,
            "val_fraction": val_fraction, "subjects": {k: list(v) for k, v in subjects.items()},
            "images": {k: len(v) for k, v in splits.items()},
            "pairs": {k: len(v) for k, v in pair_frames.items()}, "content_hash": digest}
    (out_dir / EVALSET_NAME).write_text(json.dumps(meta, indent=2))
    return load_evalset(out_dir)


def load_evalset(root: str | Path) -> EvalSet:
    root = Path(root)
    meta_path = root / EVALSET_NAME
    if not meta_path.is_file():
        raise EvalSetError(MSG_NOT_AN_EVALSET.format(path=root, name=EVALSET_NAME))
    meta = json.loads(meta_path.read_text())
    return EvalSet(root=root, expressions=tuple(meta["expressions"]), lightings=tuple(meta["lightings"]),
                   subjects={k: tuple(v) for k, v in meta["subjects"].items()}, content_hash=meta["content_hash"])
