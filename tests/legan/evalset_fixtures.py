"""Made-up labelled faces on disk (a manifest, or a CK+-style folder) for evaluation tests:
each subject has its own face geometry and tone; expressions change the mouth, lightings add
a shading ramp, so targets are real images of the same subject in another condition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from legan.data.manifest import write_manifest

EXPRESSIONS = ["neutral", "happy", "surprise"]
LIGHTINGS = ["frontal", "left"]


def draw_face(subject: int, expression: int, lighting: int, size: int = 32) -> np.ndarray:
    """(size, size, 3) uint8."""
    rng = np.random.default_rng(subject)
    yy, xx = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    cy, cx, ry, rx = rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), rng.uniform(0.6, 0.85), rng.uniform(0.45, 0.65)
    img = np.full((size, size, 3), 30.0)
    head = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    img[head] = rng.uniform(120, 220, 3)
    for side in (-1, 1):
        img[((yy - cy + 0.25) / 0.08) ** 2 + ((xx - cx - side * rng.uniform(0.2, 0.3)) / 0.12) ** 2 <= 1] = 20
    mouth_h = (0.04, 0.1, 0.18)[expression % 3]
    img[(np.abs(yy - cy - 0.35) < mouth_h) & (np.abs(xx - cx) < 0.25)] = 60
    img += 60 * lighting * xx[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def write_face_manifest(root: Path, subjects: int = 8, size: int = 32) -> Path:
    rows = []
    (root / "images").mkdir(parents=True, exist_ok=True)
    for s in range(subjects):
        for e, expression in enumerate(EXPRESSIONS):
            for l, lighting in enumerate(LIGHTINGS):
                name = f"images/s{s}_{expression}_{lighting}.png"
                Image.fromarray(draw_face(s, e, l, size)).save(root / name)
                rows.append({"image_path": name, "subject": f"faces:{s:02d}", "expression": expression,
                             "lighting": lighting, "source": "faces"})
    return write_manifest(rows, root / "manifest.csv")


def write_ckplus_folder(root: Path, subjects: int = 8) -> Path:
    """CK+48's layout (expression folders, S###_###_########.png, 48x48 grey)."""
    for s in range(subjects):
        for e, folder in enumerate(("neutral", "happy", "surprise")):
            for frame in range(2):
                path = root / folder / f"S{s + 10:03d}_{e + 1:03d}_{frame + 1:08d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(draw_face(s, e, 0, 48)[..., 0]).save(path)
    return root
