"""Image I/O for dataset files: reading goes through faces.io (the one decoder), writing
saves grey sources as single-channel PNGs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from faces.io import load_rgb


def read_image(path: str | Path) -> tuple[np.ndarray, bool]:
    """Return ((H, W, 3) uint8 RGB, is_grey), decoded by the project's one decoder (faces.io:
    EXIF orientation, alpha over white, 16-bit scaled); raises faces.errors.UnreadableImageError."""
    rgb = load_rgb(path)
    grey = bool(np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]))
    return rgb, grey


def save_image(path: Path, image_rgb: np.ndarray, as_grey: bool = False) -> None:
    """Save (H, W, 3) uint8 RGB as PNG; grey sources as single-channel PNG (a third of the bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if as_grey:
        Image.fromarray(np.ascontiguousarray(image_rgb[..., 0]), mode="L").save(path)
    else:
        Image.fromarray(np.ascontiguousarray(image_rgb), mode="RGB").save(path)


def save_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((mask.astype(bool) * 255).astype(np.uint8), mode="L").save(path)


def read_mask(path: str | Path) -> np.ndarray:
    """(H, W) bool; a pixel brighter than half is inside the mask."""
    return load_rgb(path)[..., 0] > 127
