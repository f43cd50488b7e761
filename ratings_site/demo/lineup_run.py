"""A FABRICATED comparison run in legan.compare's layout, for the lineup demo and tests.

    <root>/run.json
    <root>/evalset/{evalset.json, train.csv, val.csv, test.csv, images/*.png}
    <root>/eval/{per_pair.csv, table1.csv, table1.md, outputs/<model>/<pair_id>.png}

No model is trained: each "model output" is the real target photo degraded by a known
amount per model (stronger blur and noise for worse models), and its "Q score" is a
noisy function of that amount. The numbers it leads to say nothing about any GAN.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

# model -> (blur radius, noise sd): the order the simulated raters should recover.
DEFAULT_MODELS = {"legan": (0.3, 2.0), "stargan_qual": (0.8, 2.0), "stargan": (1.3, 2.0), "stargan_v2": (2.0, 2.0)}
EXPRESSIONS = ("neutral", "happy", "surprise")
LIGHTINGS = ("frontal", "left", "right")


@functools.lru_cache(maxsize=1)
def _photo() -> np.ndarray:
    try:
        from skimage import data

        return data.astronaut()[30:250, 140:360]
    except Exception:  # skimage missing: a random pattern still makes a face-sized image
        return (np.random.default_rng(0).random((220, 220, 3)) * 255).astype(np.uint8)


def _base_face(size: int, seed: int) -> np.ndarray:
    face = _photo()
    image = np.asarray(Image.fromarray(face).resize((size, size), Image.BICUBIC)).astype(np.float32)
    rng = np.random.default_rng(seed)
    image = image * rng.uniform(0.8, 1.1, size=3)  # a different "person": colour cast and mirror
    return image[:, ::-1] if seed % 2 else image


def _condition(base: np.ndarray, expression: str, lighting: str) -> np.ndarray:
    size = base.shape[0]
    image = base.copy()
    ramp = np.linspace(0.35, 1.25, size, dtype=np.float32)
    if lighting == "left":
        image *= ramp[None, :, None]
    elif lighting == "right":
        image *= ramp[::-1][None, :, None]
    rows = slice(int(size * 0.62), int(size * 0.78))
    cols = slice(int(size * 0.3), int(size * 0.7))
    if expression == "happy":
        image[rows, cols] = image[rows, cols] * 1.35 + 25
    elif expression == "surprise":
        image[rows, cols] = image[rows, cols] * 0.3
    return np.clip(image, 0, 255).astype(np.uint8)


def _save(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def _degrade(image: np.ndarray, blur: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    out = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(blur))).astype(np.float32)
    return np.clip(out + rng.normal(0, noise, out.shape), 0, 255).astype(np.uint8)


def compare_run_fabricate(root: str | Path, *, test_subjects: int = 8, train_subjects: int = 3, size: int = 48,
                          models: dict[str, tuple[float, float]] | None = None, seed: int = 0,
                          with_quality: bool = True) -> Path:
    root = Path(root)
    models = models or DEFAULT_MODELS
    rng = np.random.default_rng(seed)
    evalset = root / "evalset"
    manifests: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    faces: dict[tuple, np.ndarray] = {}
    subjects = {"train": [f"t{i:02d}" for i in range(train_subjects)], "val": [],
                "test": [f"s{i:02d}" for i in range(test_subjects)]}
    for split, names in subjects.items():
        for k, subject in enumerate(names):
            base = _base_face(size, seed * 1000 + sum(map(ord, subject)))
            for e in EXPRESSIONS:
                for light in LIGHTINGS:
                    image = _condition(base, e, light)
                    rel = f"images/{subject}_{e}_{light}.png"
                    _save(evalset / rel, image)
                    faces[(subject, e, light)] = image
                    manifests[split].append({"image_path": rel, "subject": subject, "expression": e, "lighting": light})
    for split, rows in manifests.items():
        pd.DataFrame(rows, columns=["image_path", "subject", "expression", "lighting"]).to_csv(evalset / f"{split}.csv", index=False)
    (evalset / "evalset.json").write_text(json.dumps({
        "expressions": list(EXPRESSIONS), "lightings": list(LIGHTINGS), "subjects": subjects,
        "content_hash": "fabricated", "note": "FABRICATED demo data"}, indent=2))
    pairs = []
    for subject in subjects["test"]:
        for ie, il in (("neutral", "frontal"), ("happy", "left")):
            for te in EXPRESSIONS:
                for tl in LIGHTINGS:
                    if (te, tl) == (ie, il):
                        continue
                    pairs.append({"pair_id": f"p{len(pairs):05d}", "subject": subject,
                                  "input_path": f"images/{subject}_{ie}_{il}.png",
                                  "target_path": f"images/{subject}_{te}_{tl}.png", "input_expression": ie,
                                  "input_lighting": il, "target_expression": te, "target_lighting": tl})
    per_pair = pd.DataFrame(pairs)
    out = root / "eval"
    for model, (blur, noise) in models.items():
        qualities = []
        for row in pairs:
            target = faces[(row["subject"], row["target_expression"], row["target_lighting"])]
            _save(out / "outputs" / model / f"{row['pair_id']}.png", _degrade(target, blur, noise, rng))
            qualities.append(float(np.clip(8.5 - 1.5 * blur - noise / 12 + rng.normal(0, 0.4), 0, 10)))
        if with_quality:
            per_pair[f"{model}:quality"] = qualities
    per_pair.to_csv(out / "per_pair.csv", index=False)
    table = pd.DataFrame([{"model": m, "quality": per_pair[f"{m}:quality"].mean() if with_quality else None}
                          for m in models] + [{"model": "real", "quality": None}])
    table.to_csv(out / "table1.csv", index=False)
    lines = ["| model | quality (Q) ↑ |", "|---|---|"]
    lines += [f"| {r.model} | {'–' if pd.isna(r.quality) else f'{r.quality:.3f}'} |" for r in table.itertuples()]
    (out / "table1.md").write_text("\n".join(lines) + "\n\nMean over the pairs.\n\n- FABRICATED comparison run "
                                   "(ratings_site.demo.lineup_run): degraded real photos, not GAN outputs\n")
    (root / "run.json").write_text(json.dumps({"command": "ratings_site.demo.lineup_run (FABRICATED)",
                                               "git_commit": "", "evalset_hash": "fabricated"}, indent=2))
    return root
