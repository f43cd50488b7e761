"""SIMULATED crowd: synthetic naturalness ratings for real face images. NOT human data.

Purpose: exercise and benchmark everything downstream of the rating platform (label export ->
data loading -> training -> evaluation) before real crowd labels exist, on a task whose ground
truth is known. The simulator:

1. takes real face images (ideally prepared 128x128 hull-masked faces; anything else is
   centre-cropped and resized, or prepared with faces/ when --prepare is given),
2. degrades each face K times with a known kind and strength (quality/degradations.py);
   a share of variants stays clean (strength 0),
3. sets a latent naturalness  latent = 9.5 - 8 * kind_scale[kind] * strength + jitter,
   clipped to [0, 10] (jitter ~ N(0, face_jitter) per variant: faces differ a little),
4. lets 3 distinct raters from a pool rate it: rating = clip(round(latent + rater_bias +
   noise), 0, 10) with rater_bias ~ N(0, bias_std) fixed per rater and noise ~ N(0, noise_std),
   or, with --noise-spread s > 0, noise ~ N(0, noise_std * m_image), m_image ~ LogNormal(0, s)
   per image (some images divide raters more than others; see CrowdConfig.noise_spread),
5. writes the degraded images and a label export with exactly the platform's schema:
   image_path, mu, sigma, n, source, subject, image_id; mu is the mean of the 3 ratings and
   sigma their sample standard deviation (ddof=1), as the platform computes it. The ground
   truth (kind, strength, latent, rater ids and ratings) goes to a separate simulation.csv.

CLI: python -m quality.simulate --faces DIR --out DIR [--per-image K] [--seed S] [--prepare]
  Sources are the first-level subfolders of --faces (files directly inside get the folder's
  name); the subject of every variant is "<source>/<file stem>", so all variants of one face
  land in the same split.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from quality.degradations import DEGRADATIONS, degrade
from faces.errors import UnreadableImageError
from faces.io import list_images, load_rgb
from runkit.contract import fit_to_size

LABEL_COLUMNS = ["image_path", "mu", "sigma", "n", "source", "subject", "image_id"]
NO_FACES = "No face images found under {folder}"


@dataclass
class CrowdConfig:
    raters_per_image: int = 3
    rater_pool: int = 30
    bias_std: float = 0.8  # how much raters differ in leniency
    noise_std: float = 1.0  # one rater's inconsistency from image to image
    # Heteroscedastic option (off by default, which keeps every earlier run identical): each
    # image's noise std is noise_std * LogNormal(0, noise_spread), median noise_std. Why: the
    # paper labels each image with its own sigma and trains Q to a per-image margin because
    # raters disagree more on some images than others ("the subjective nature of human
    # perception"); with a constant noise_std the simulator's images differ in spread only by
    # sampling and clipping. No human data fixes the value; quality/experiments/adaptive.py
    # reports results for several.
    noise_spread: float = 0.0
    face_jitter: float = 0.3
    clean_share: float = 0.15  # variants left undegraded
    kind_scale: dict[str, float] = field(default_factory=lambda: {
        "blur": 0.85, "jpeg": 0.9, "noise": 0.8, "checkerboard": 1.0,
        "warp": 1.0, "colour": 0.7, "patch_swap": 1.0})


@dataclass
class FaceSource:
    path: Path
    source: str
    subject: str


def latent_naturalness(kind: str, strength: float, config: CrowdConfig) -> float:
    scale = 0.0 if kind == "none" else config.kind_scale[kind]
    return float(np.clip(9.5 - 8.0 * scale * strength, 0.0, 10.0))


def image_noise_scale(config: CrowdConfig, rng: np.random.Generator) -> float:
    """The image's multiplier of noise_std (1.0, drawing nothing, unless noise_spread > 0)."""
    return float(rng.lognormal(0.0, config.noise_spread)) if config.noise_spread > 0 else 1.0


def rate(latent: float, rater_ids: np.ndarray, biases: np.ndarray, config: CrowdConfig,
         rng: np.random.Generator, noise_scale: float = 1.0) -> np.ndarray:
    """Integer 0-10 ratings of one image by the given raters."""
    raw = latent + biases[rater_ids] + rng.normal(0.0, config.noise_std * noise_scale, len(rater_ids))
    return np.clip(np.rint(raw), 0, 10).astype(int)


def faces_from_folder(folder: str | Path) -> list[FaceSource]:
    root = Path(folder)
    items = []
    for path in list_images(root):
        rel = path.relative_to(root)
        source = rel.parts[0] if len(rel.parts) > 1 else root.name
        items.append(FaceSource(path, source, f"{source}/{path.stem}"))
    return items


def simulate_crowd(faces: Sequence[FaceSource], out_dir: str | Path, *, per_image: int = 4,
                   seed: int = 0, size: int = 128, config: CrowdConfig | None = None,
                   prepare: Callable[[np.ndarray], np.ndarray] | None = None,
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write images + labels.csv + simulation.csv into out_dir; return (labels, truth)."""
    config = config or CrowdConfig()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    biases = rng.normal(0.0, config.bias_std, config.rater_pool)
    kinds = sorted(DEGRADATIONS)
    labels, truth, skipped = [], [], []
    for face in faces:
        try:
            image = load_rgb(face.path)
            image = prepare(image) if prepare is not None else image
        except UnreadableImageError as err:
            skipped.append(str(err))
            continue
        except Exception as err:  # faces/ rejected it (no face, too small, ...)
            skipped.append(f"{face.path}: {getattr(err, 'reason', type(err).__name__)}: {err}")
            continue
        base = fit_to_size(image, size)
        for k in range(per_image):
            clean = rng.random() < config.clean_share
            kind = "none" if clean else kinds[int(rng.integers(len(kinds)))]
            strength = 0.0 if clean else float(rng.uniform(0.0, 1.0))
            variant = degrade(base, kind, strength, rng)
            latent = float(np.clip(latent_naturalness(kind, strength, config)
                                   + rng.normal(0.0, config.face_jitter), 0.0, 10.0))
            raters = rng.choice(config.rater_pool, size=config.raters_per_image, replace=False)
            noise_scale = image_noise_scale(config, rng)
            ratings = rate(latent, raters, biases, config, rng, noise_scale)
            rel = Path("images") / face.source / f"{Path(face.path).stem}_{k:02d}_{kind}.png"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(variant).save(out / rel)
            image_id = len(labels) + 1
            labels.append({"image_path": rel.as_posix(), "mu": float(ratings.mean()),
                           # the platform's sigma: sample standard deviation (ddof=1)
                           "sigma": float(ratings.std(ddof=1)) if len(ratings) > 1 else 0.0,
                           "n": len(ratings), "source": face.source, "subject": face.subject,
                           "image_id": image_id})
            truth.append({"image_id": image_id, "image_path": rel.as_posix(), "kind": kind,
                          "strength": strength, "latent": latent, "noise_scale": noise_scale,
                          "rater_ids": " ".join(map(str, raters)),
                          "ratings": " ".join(map(str, ratings))})
    if not labels:
        raise ValueError(NO_FACES.format(folder=", ".join({str(Path(f.path).parent) for f in faces}) or "?")
                         + (f"; skipped: {skipped[:5]}" if skipped else ""))
    label_frame = pd.DataFrame(labels, columns=LABEL_COLUMNS)
    truth_frame = pd.DataFrame(truth)
    label_frame.to_csv(out / "labels.csv", index=False)
    truth_frame.to_csv(out / "simulation.csv", index=False)
    (out / "SIMULATED.txt").write_text(
        "These ratings are SIMULATED by quality/simulate.py, not given by people.\n"
        f"seed={seed} per_image={per_image} crowd={asdict(config)}\n"
        + "".join(f"skipped {s}\n" for s in skipped))
    return label_frame, truth_frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quality.simulate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", required=True, help="folder of face images (recursive)")
    parser.add_argument("--out", required=True, help="output folder (images/, labels.csv, simulation.csv)")
    parser.add_argument("--per-image", type=int, default=4, help="degraded variants per face")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--noise-spread", type=float, default=0.0,
                        help="heteroscedastic raters: per-image noise std = noise_std * LogNormal(0, this); 0 = constant")
    parser.add_argument("--prepare", action="store_true",
                        help="align + hull-mask raw photos with faces/ first (needs faces/)")
    args = parser.parse_args(argv)
    faces = faces_from_folder(args.faces)
    if not faces:
        print(f"error: {NO_FACES.format(folder=args.faces)}", file=sys.stderr)
        return 2
    try:
        prepare = None
        if args.prepare:
            from quality.score import face_preparer
            from runkit.contract import InputContract
            prepare = face_preparer(InputContract(size=args.size, mask="hull"))
        labels, _ = simulate_crowd(faces, args.out, per_image=args.per_image, seed=args.seed,
                                   size=args.size, prepare=prepare,
                                   config=CrowdConfig(noise_spread=args.noise_spread))
    except (RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"SIMULATED {len(labels)} rated images from {len(faces)} faces -> {args.out}/labels.csv "
          f"(mu mean {labels['mu'].mean():.2f}, sigma mean {labels['sigma'].mean():.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
