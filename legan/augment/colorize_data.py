"""Colour face images for training the colouriser: (grey, colour) pairs made from any colour set."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from faces.errors import UnreadableImageError
from faces.io import IMAGE_SUFFIXES, list_images as _list_image_files, load_rgb
from runkit.contract import fit_to_size, to_tensor

MSG_NO_FOLDER = "Image folder not found: {path}"
MSG_NO_IMAGES = "No usable colour images under {path} (looked for {suffixes}; grey images are left out)."


def list_images(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(MSG_NO_FOLDER.format(path=root))
    return _list_image_files(root)


def _load_square_rgb(path: Path, size: int) -> np.ndarray | None:
    """The one decoder, centre square, size x size (runkit.contract.fit_to_size); None for
    unreadable files."""
    try:
        return fit_to_size(load_rgb(path), size)
    except UnreadableImageError:
        return None


def is_colour(image: np.ndarray, min_chroma: float = 2.0) -> bool:
    """A grey image (channels equal up to JPEG noise) teaches the colouriser nothing."""
    rgb = image.astype(np.float32)
    return float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean()) >= min_chroma


class ColourFaceFolder(Dataset):
    """Items: {"grey": (1,S,S), "colour": (3,S,S)} in [-1, 1]. Images are decoded and
    resized once into memory (colour sets of ~10K 128 px faces take ~0.5 GB)."""

    def __init__(self, root: str | Path, image_size: int = 128, flip: bool = True, seed: int = 0) -> None:
        self.root = Path(root)
        self.image_size = image_size
        self.flip = flip
        self.seed = seed
        images, self.paths, self.left_out = [], [], []
        for path in list_images(self.root):
            image = _load_square_rgb(path, image_size)
            if image is None or not is_colour(image):
                self.left_out.append(path)
                continue
            images.append(image)
            self.paths.append(path)
        if not images:
            raise ValueError(MSG_NO_IMAGES.format(path=self.root, suffixes=IMAGE_SUFFIXES))
        self.images = np.stack(images)  # (N, S, S, 3) uint8
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        image = self.images[index]
        # Flip decided by (seed, epoch, index): a resumed run sees the same data.
        if self.flip and np.random.default_rng((self.seed, self.epoch, index)).random() < 0.5:
            image = image[:, ::-1]
        colour = to_tensor(image)
        grey = (colour * colour.new_tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
        return {"grey": grey, "colour": colour}  # (1, S, S), (3, S, S)
