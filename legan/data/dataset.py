"""LeganDataset: manifest rows -> training items for LEGAN (see notes/contracts.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from legan.data.cache import DecodeCache
from legan.data.images import read_image, read_mask
from legan.data.manifest import read_manifest, resolve_path
from runkit.contract import center_square, fit_to_size, to_tensor

# augment(image (S, S, 3) uint8 RGB, mask (S, S) bool) -> (S, S, 3) uint8 RGB; the mask is never changed.
AugmentFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

MSG_DUPLICATE_LABELS = "Label list for {kind} has duplicates: {labels}"
MSG_AUGMENT_SHAPE = "augment returned an image of shape {got}, expected {expected} uint8."


def image_to_tensor(image_rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float in [-1, 1]: the input contract's normalisation."""
    return to_tensor(image_rgb)


def load_face(image_path: Path, size: int, mask_path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A manifest image at size x size: ((S, S, 3) uint8 RGB, (S, S) bool mask; all ones without
    a mask file). Other sizes are fitted as every model input is (runkit.contract.fit_to_size:
    centre square, then resize); masks get the same crop, resized nearest."""
    image, _ = read_image(image_path)  # (H, W, 3) uint8
    mask = read_mask(mask_path) if mask_path is not None else np.ones(image.shape[:2], dtype=bool)
    image = fit_to_size(image, size)
    if mask.shape != (size, size):
        mask = center_square(mask)
        mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.NEAREST)) > 127
    return image, mask


class LeganDataset(Dataset):
    """Items: {"image": (3,S,S) float [-1,1] RGB, "mask": (1,S,S) float {0,1},
    "expression": int, "lighting": int, "subject": str}.

    Label indices follow the order of `expressions` / `lightings`. Rows without a mask
    (no mask_path column or an empty cell) get an all-ones mask. Images of another size
    are resized (bilinear; masks nearest). With `cache=True` each image is decoded once per
    run (legan.data.cache.DecodeCache, shared by the loader workers); augmentation still
    runs on every read.
    """

    def __init__(
        self,
        manifest_path: str | Path,
        expressions: Sequence[str],
        lightings: Sequence[str],
        image_size: int = 128,
        augment: AugmentFn | None = None,
        cache: bool = False,
    ) -> None:
        for kind, labels in (("expressions", expressions), ("lightings", lightings)):
            if len(set(labels)) != len(labels):
                raise ValueError(MSG_DUPLICATE_LABELS.format(kind=kind, labels=list(labels)))
        self.manifest_path = Path(manifest_path)
        self.frame = read_manifest(self.manifest_path, expressions, lightings, check_files=True)
        self.expressions = list(expressions)
        self.lightings = list(lightings)
        self.image_size = int(image_size)
        self.augment = augment
        self._expression_index = {name: i for i, name in enumerate(self.expressions)}
        self._lighting_index = {name: i for i, name in enumerate(self.lightings)}
        self._root = self.manifest_path.parent
        self._has_masks = "mask_path" in self.frame.columns
        self._cache = DecodeCache(len(self.frame), self.image_size) if cache else None

    def __len__(self) -> int:
        return len(self.frame)

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        row = self.frame.iloc[index]
        mask_path = row["mask_path"] if self._has_masks else ""
        return load_face(resolve_path(self._root, row["image_path"]), self.image_size,
                         resolve_path(self._root, mask_path) if mask_path else None)

    def __getitem__(self, index: int) -> dict:
        image, mask = self._cache.get(index, self._load) if self._cache is not None else self._load(index)
        if self.augment is not None:
            augmented = self.augment(image, mask)
            if augmented.shape != image.shape or augmented.dtype != np.uint8:
                raise ValueError(MSG_AUGMENT_SHAPE.format(got=augmented.shape, expected=image.shape))
            image = augmented
        row = self.frame.iloc[index]
        return {
            "image": image_to_tensor(image),  # (3, S, S)
            "mask": torch.from_numpy(mask.astype(np.float32))[None],  # (1, S, S)
            "expression": self._expression_index[row["expression"]],
            "lighting": self._lighting_index[row["lighting"]],
            "subject": str(row["subject"]),
        }

    def class_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-class item counts (expression, lighting) in label-list order, e.g. for balanced sampling."""
        exp = self.frame["expression"].map(self._expression_index).to_numpy()
        light = self.frame["lighting"].map(self._lighting_index).to_numpy()
        return (
            np.bincount(exp, minlength=len(self.expressions)),
            np.bincount(light, minlength=len(self.lightings)),
        )
