"""A small evaluation with the signature of `legan.evaluate.evaluate_checkpoint`, injected
through the LEGAN_EVALUATE_FUNCTION setting while the lead's evaluation has not landed on
main. It does real work on a real checkpoint: it loads the generator, checks its input the
way the contract asks (before any translation), translates each pair's input to its
target and reports SSIM to the target (scikit-image), writing the table and a grid.

Its pairs manifest: a CSV `pairs_<split>.csv` (or a folder holding pairs_test.csv) with
subject, input_path, target_path, target_expression, target_lighting (paths relative to it).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

try:
    from legan.evaluate import EvaluationError
except ImportError:
    class EvaluationError(ValueError):
        pass


@dataclass
class EvaluationResult:
    table_csv: Path
    table_md: Path
    grid_png: Path
    rows: list[dict]


def small_evaluate_checkpoint(checkpoint, *, pairs_manifest, out_dir, q_checkpoint=None, device="cpu",
                              on_progress=None, should_stop=None):
    import torch
    from skimage.metrics import structural_similarity

    from legan.checkpoint import load_generator
    from legan.samples import to_uint8
    from legan.synthesis import translate

    manifest = Path(pairs_manifest)
    manifest = manifest / "pairs_test.csv" if manifest.is_dir() else manifest
    if not manifest.is_file():
        raise EvaluationError(f"no pairs file {manifest}")
    try:
        G, config = load_generator(Path(checkpoint))
    except Exception as exc:
        raise EvaluationError(f"{checkpoint} is not a LEGAN generator checkpoint ({type(exc).__name__}: {exc})")
    pairs = list(csv.DictReader(manifest.open()))
    if not pairs:
        raise EvaluationError(f"the evaluation set's {manifest.stem.removeprefix('pairs_')} split has no pairs")
    missing = sorted({p["target_expression"] for p in pairs} - set(config.expressions)) + sorted(
        {p["target_lighting"] for p in pairs} - set(config.lightings))
    if missing:
        raise EvaluationError(f"the model does not know the target class(es) {missing}")

    def load(rel):
        image = np.asarray(Image.open(manifest.parent / rel).convert("RGB"))
        if image.shape[0] != config.image_size:
            raise EvaluationError(f"the evaluation images are {image.shape[0]} px, the model works at {config.image_size} px")
        return image

    inputs = np.stack([load(p["input_path"]) for p in pairs])
    targets = np.stack([load(p["target_path"]) for p in pairs])
    if should_stop is not None and should_stop():
        raise KeyboardInterrupt("evaluation stopped")
    x = torch.from_numpy(inputs).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    e = torch.tensor([config.expressions.index(p["target_expression"]) for p in pairs])
    l_ = torch.tensor([config.lightings.index(p["target_lighting"]) for p in pairs])
    outputs = to_uint8(translate(G, x, e, l_).images)
    if on_progress:
        on_progress(1, 2)
    ssim = [structural_similarity(o, t, channel_axis=2, data_range=255) for o, t in zip(outputs, targets)]
    rows = [{"model": "legan", "ssim": float(np.mean(ssim)), "n_pairs": len(pairs)},
            {"model": "real", "ssim": 1.0, "n_pairs": len(pairs)}]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "table1.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out_dir / "table1.md").write_text("| model | ssim |\n|---|---|\n" + "".join(f"| {r['model']} | {r['ssim']:.3f} |\n" for r in rows))
    grid = np.concatenate([np.concatenate(list(row), axis=1) for row in (inputs, targets, outputs)], axis=0)
    Image.fromarray(grid).save(out_dir / "grid.png")
    if on_progress:
        on_progress(2, 2)
    return EvaluationResult(out_dir / "table1.csv", out_dir / "table1.md", out_dir / "grid.png", rows)
