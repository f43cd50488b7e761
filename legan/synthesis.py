"""Synthesis with a trained generator: load face images, translate them to target
(expression, lighting) pairs, and balance a labelled manifest with synthetic variants."""

from __future__ import annotations

import csv
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from faces.errors import FaceAnalysisError
from faces.io import IMAGE_SUFFIXES
from legan.samples import heatmap, to_uint8
from runkit.contract import InputContract, file_input
MANIFEST_COLUMNS = ("image_path", "subject", "expression", "lighting")

MSG_NO_IMAGES = "no images found in {paths} (looked for {suffixes})"
MSG_UNREADABLE = "cannot read image {path}: {detail}"
MSG_UNKNOWN_CLASS = "unknown {what} {name!r}; this checkpoint knows: {known}"
MSG_MANIFEST_COLUMNS = "manifest {path} lacks column(s) {missing}; expected at least " + ", ".join(MANIFEST_COLUMNS)
MSG_MANIFEST_EMPTY = "manifest {path} has no rows"
MSG_BAD_BALANCE = "balance must be 'expression' or 'lighting', got {what!r}"


class SynthesisError(ValueError):
    """Bad input to synthesis (missing image, unknown class, malformed manifest)."""


def collect_image_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their image files (sorted)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(p)
    if not found:
        raise SynthesisError(MSG_NO_IMAGES.format(paths=[str(p) for p in paths], suffixes=IMAGE_SUFFIXES))
    return found


def load_face_tensor(path: Path, size: int) -> torch.Tensor:
    """An aligned face image -> (3, size, size) in [-1, 1], decoded and fitted as every model
    input is (runkit.contract: the one decoder, centre square crop, resize)."""
    try:
        return file_input(Path(path), InputContract(size=size))
    except FaceAnalysisError as exc:  # faces' typed errors carry a clear message
        raise SynthesisError(MSG_UNREADABLE.format(path=path, detail=exc)) from exc


def class_index(names: Sequence[str], name: str, what: str) -> int:
    if name not in names:
        raise SynthesisError(MSG_UNKNOWN_CLASS.format(what=what, name=name, known=", ".join(names)))
    return list(names).index(name)


@dataclass
class Translation:
    images: torch.Tensor  # (N, 3, H, W) in [-1, 1]
    expression_masks: Optional[torch.Tensor]  # (N, M, H, W) or None (StarGAN)
    lighting_masks: Optional[torch.Tensor]


@torch.no_grad()
def translate(G: torch.nn.Module, images: torch.Tensor, expression: torch.Tensor, lighting: torch.Tensor,
              batch_size: int = 16) -> Translation:
    """G(x, f_b) in batches; images (N, 3, H, W), expression / lighting (N,) target ids."""
    device = next(G.parameters()).device
    outs, m_e, m_l = [], [], []
    for i in range(0, len(images), batch_size):
        o = G(images[i:i + batch_size].to(device), expression[i:i + batch_size].to(device),
              lighting[i:i + batch_size].to(device))
        outs.append(o.image.cpu())
        if o.expression_mask is not None:
            m_e.append(o.expression_mask.cpu())
            m_l.append(o.lighting_mask.cpu())
    return Translation(torch.cat(outs), torch.cat(m_e) if m_e else None, torch.cat(m_l) if m_l else None)


def save_image(tensor: torch.Tensor, path: Path) -> Path:
    """(3, H, W) in [-1, 1] -> PNG."""
    Image.fromarray(to_uint8(tensor[None])[0]).save(path)
    return Path(path)


def save_heatmap(mask: torch.Tensor, path: Path) -> Path:
    Image.fromarray(heatmap(mask[None])[0]).save(path)
    return Path(path)


def combination_grid(outputs: torch.Tensor, n_expressions: int, n_lightings: int) -> Image.Image:
    """(n_e * n_l, 3, H, W) outputs ordered expression-major -> one image, rows = expressions."""
    tiles = to_uint8(outputs)  # (n_e * n_l, H, W, 3)
    rows = [np.concatenate(list(tiles[e * n_lightings:(e + 1) * n_lightings]), axis=1) for e in range(n_expressions)]
    return Image.fromarray(np.concatenate(rows, axis=0))


# -- manifest balancing ---------------------------------------------------------------------
def read_manifest(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise SynthesisError(f"manifest not found: {path}")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SynthesisError(MSG_MANIFEST_COLUMNS.format(path=path, missing=", ".join(missing)))
        rows = list(reader)
    if not rows:
        raise SynthesisError(MSG_MANIFEST_EMPTY.format(path=path))
    return rows


@dataclass
class AugmentPlan:
    """One synthetic image to make: translate rows[source] to (expression, lighting)."""

    source: int
    expression: str
    lighting: str


def plan_balance(rows: list[dict], balance: str, classes: Sequence[str], seed: int = 0,
                 target_count: Optional[int] = None) -> list[AugmentPlan]:
    """Fill every class of `balance` up to the largest class's count (or target_count) with
    translations of images from the *other* classes (paper section 5, AffectNet experiment);
    the other attribute keeps its source value. Sources are used round-robin in a shuffled order."""
    if balance not in ("expression", "lighting"):
        raise SynthesisError(MSG_BAD_BALANCE.format(what=balance))
    counts = Counter(r[balance] for r in rows)
    goal = target_count if target_count is not None else max(counts.values())
    rng = random.Random(seed)
    plans: list[AugmentPlan] = []
    for cls in classes:
        deficit = goal - counts.get(cls, 0)
        sources = [i for i, r in enumerate(rows) if r[balance] != cls]
        rng.shuffle(sources)
        for k in range(max(0, deficit) if sources else 0):
            src = rows[sources[k % len(sources)]]
            expr = cls if balance == "expression" else src["expression"]
            light = cls if balance == "lighting" else src["lighting"]
            plans.append(AugmentPlan(sources[k % len(sources)], expr, light))
    return plans


def _relative(path_text: str, manifest_dir: Path, out_dir: Path) -> str:
    """Absolute paths stay absolute; relative ones are re-expressed from the new manifest's folder."""
    p = Path(path_text)
    if p.is_absolute():
        return path_text
    return os.path.relpath((manifest_dir / p).resolve(), Path(out_dir).resolve())


def augment_manifest(G: torch.nn.Module, expressions: Sequence[str], lightings: Sequence[str], image_size: int,
                     manifest: Path, out_dir: Path, balance: str = "expression", seed: int = 0,
                     target_count: Optional[int] = None, batch_size: int = 16) -> Path:
    """Write out_dir/images/*.png and out_dir/manifest.csv (originals + synthetic rows)."""
    manifest, out_dir = Path(manifest), Path(out_dir)
    rows = read_manifest(manifest)
    for r in rows:
        class_index(expressions, r["expression"], "expression")
        class_index(lightings, r["lighting"], "lighting")
    plans = plan_balance(rows, balance, expressions if balance == "expression" else lightings, seed, target_count)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    fields = list(rows[0].keys()) + [c for c in ("synthetic", "source_image") if c not in rows[0]]
    out_rows = []
    for r in rows:
        new = dict(r, synthetic="0", source_image="")
        new["image_path"] = _relative(r["image_path"], manifest.parent, out_dir)
        if r.get("mask_path"):
            new["mask_path"] = _relative(r["mask_path"], manifest.parent, out_dir)
        out_rows.append(new)
    for start in range(0, len(plans), batch_size):
        chunk = plans[start:start + batch_size]
        x = torch.stack([load_face_tensor(manifest.parent / rows[p.source]["image_path"], image_size) for p in chunk])
        e = torch.tensor([class_index(expressions, p.expression, "expression") for p in chunk])
        l = torch.tensor([class_index(lightings, p.lighting, "lighting") for p in chunk])
        result = translate(G, x, e, l, batch_size)
        for j, p in enumerate(chunk):
            src = out_rows[p.source]
            name = f"images/synthetic-{start + j:06d}-{p.expression}-{p.lighting}.png"
            save_image(result.images[j], out_dir / name)
            # The mask of the source is reused: translation keeps the alignment (same landmarks).
            out_rows.append(dict(src, image_path=name, expression=p.expression, lighting=p.lighting,
                                 synthetic="1", source_image=src["image_path"]))
    out_path = out_dir / "manifest.csv"
    with out_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(out_rows)
    return out_path
