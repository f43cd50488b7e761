"""A model's input contract: what its input tensor is made of, saved in every Q and LEGAN
checkpoint and checked by whoever loads one, so the API, the CLI and training feed a model the
same tensor for the same file.

    size           the square side S in pixels; other sizes are fitted by `fit_to_size`
    colour         "rgb" (greyscale is replicated, alpha composited over white: faces.io)
    normalisation  "minus_one_to_one": uint8 x -> x / 127.5 - 1
    mask           "hull": the face is aligned and masked to its landmark hull
                   (faces.pipeline.prepare_masked_face, what Q is trained on);
                   "none": an aligned face, unmasked (LEGAN's input; its masks are loss weights)

Checkpoints written before the contract existed get the documented default of their model:
Q -> (its image_size, rgb, minus_one_to_one, hull); LEGAN -> (its image_size, rgb,
minus_one_to_one, none), which is what those models were trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from PIL import Image

from faces.io import ImageSource, load_rgb

COLOURS = ("rgb",)
NORMALISATIONS = ("minus_one_to_one",)
MASKS = ("hull", "none")

MSG_UNSUPPORTED = "input contract: {field} {value!r} is not one this code can produce (known: {known})"
MSG_MISMATCH = "{source}: the checkpoint's input contract {saved} does not match {expected} ({fields} differ)"
MSG_BAD_CONTRACT = "{source}: malformed input contract {saved!r} ({error})"


class ContractError(ValueError):
    """A checkpoint's input contract is malformed, unsupported or not what the loader needs."""


@dataclass(frozen=True)
class InputContract:
    size: int
    colour: str = "rgb"
    normalisation: str = "minus_one_to_one"
    mask: str = "none"

    def __post_init__(self) -> None:
        for name, known in (("colour", COLOURS), ("normalisation", NORMALISATIONS), ("mask", MASKS)):
            if getattr(self, name) not in known:
                raise ContractError(MSG_UNSUPPORTED.format(field=name, value=getattr(self, name),
                                                           known=", ".join(known)))
        if not isinstance(self.size, int) or self.size < 1:
            raise ContractError(MSG_UNSUPPORTED.format(field="size", value=self.size, known="an int >= 1"))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, payload: dict, default: "InputContract", source: str = "checkpoint") -> "InputContract":
        """The contract a checkpoint saved, or `default` for one written before contracts."""
        saved = payload.get("input_contract")
        if saved is None:
            return default
        try:
            return cls(**{f.name: saved[f.name] for f in fields(cls)})
        except (KeyError, TypeError, ContractError) as error:
            raise ContractError(MSG_BAD_CONTRACT.format(source=source, saved=saved, error=error)) from None

    def require(self, expected: "InputContract", source: str = "checkpoint") -> "InputContract":
        """Raise ContractError unless this contract is `expected` (e.g. the network's own size)."""
        differ = [f.name for f in fields(self) if getattr(self, f.name) != getattr(expected, f.name)]
        if differ:
            raise ContractError(MSG_MISMATCH.format(source=source, saved=self.to_dict(),
                                                    expected=expected.to_dict(), fields=", ".join(differ)))
        return self


def center_square(image: np.ndarray) -> np.ndarray:
    """Largest centred square crop of an (H, W, ...) image."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def fit_to_size(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8: centre square crop, then resize if needed
    (bicubic up, Lanczos down)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    square = center_square(image)
    if square.shape[0] == size:
        return np.ascontiguousarray(square)
    resample = Image.BICUBIC if square.shape[0] < size else Image.LANCZOS
    return np.array(Image.fromarray(square).resize((size, size), resample), dtype=np.uint8)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1] (the "minus_one_to_one" normalisation)."""
    # numpy, not torch: tiny torch ops pay a thread-pool sync per call, which dominates
    # data loading on a busy CPU.
    chw = np.ascontiguousarray(np.asarray(image, np.uint8).transpose(2, 0, 1), dtype=np.float32)
    chw *= 1.0 / 127.5
    chw -= 1.0
    return torch.from_numpy(chw)


def model_input(image: np.ndarray, contract: InputContract) -> torch.Tensor:
    """A decoded (H, W, 3) uint8 RGB image (already aligned / masked as the contract says) ->
    the model's (3, S, S) input tensor."""
    return to_tensor(fit_to_size(np.asarray(image, np.uint8), contract.size))


def file_input(source: ImageSource, contract: InputContract) -> torch.Tensor:
    """Decode a file, bytes or array with the one decoder (faces.io) and make the model input."""
    return model_input(load_rgb(source), contract)
