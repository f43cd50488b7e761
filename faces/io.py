"""Decoding images into (H, W, 3) uint8 RGB arrays, with typed errors: the one decoder of the
project (the platform's uploads, faces/, quality/ and legan/ all read images through load_rgb).

Greyscale, palette, RGBA, 16-bit and float inputs are converted; EXIF
orientation is applied (phone photos are often stored rotated); animated
formats (GIF) use their first frame.
"""

from __future__ import annotations

import io as _io
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageTooSmallError, InvalidInputError, UnreadableImageError

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO, np.ndarray]

# Smaller than this the HOG detector cannot find a face even after upsampling
# twice (its window is 80 px, so 2x2 upsampling sees faces of ~20 px).
MIN_IMAGE_SIDE = 32

MSG_NOT_FOUND = "image file not found: {path}"
MSG_UNDECODABLE = "could not decode image ({detail})"
MSG_UNDECODABLE_FILE = "could not decode image file {path} ({detail})"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".pgm", ".ppm", ".webp")
MSG_EMPTY = "image data is empty"
MSG_BAD_ARRAY = "expected an image array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {shape}"
MSG_TOO_SMALL = "image is {h}x{w} pixels; at least {min_side}x{min_side} is needed to find a face"
MSG_BAD_TYPE = "cannot read an image from an object of type {type}"


def load_rgb(source: ImageSource) -> np.ndarray:
    """Return the image at `source` as a C-contiguous (H, W, 3) uint8 RGB array.

    `source` may be a path, the encoded bytes, a binary file object, or an
    already-decoded array (passed through `as_rgb`). Raises
    UnreadableImageError for missing files and anything that does not decode.
    """
    if isinstance(source, np.ndarray):
        return as_rgb(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise UnreadableImageError(MSG_NOT_FOUND.format(path=path))
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            return _decode(data)
        except UnreadableImageError as error:  # name the file: a data set has thousands
            raise UnreadableImageError(MSG_UNDECODABLE_FILE.format(path=path, detail=error.__cause__ or error)) from error
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(bytes(source))
    if hasattr(source, "read"):
        return _decode(source.read())
    raise InvalidInputError(MSG_BAD_TYPE.format(type=type(source).__name__))


def _decode(data: bytes) -> np.ndarray:
    if not data:
        raise UnreadableImageError(MSG_EMPTY)
    try:
        with warnings.catch_warnings():
            # Oversized images are an error for us, not a warning.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_io.BytesIO(data)) as pil:
                pil.seek(0)
                pil = ImageOps.exif_transpose(pil)
                return _pil_to_rgb(pil)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnreadableImageError(MSG_UNDECODABLE.format(detail=error)) from error


def _pil_to_rgb(pil: Image.Image) -> np.ndarray:
    # 16/32-bit greyscale ("I;16", "I") would be clipped by convert("RGB"):
    # go through numpy and rescale to 8 bits instead.
    if pil.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return as_rgb(np.asarray(pil))
    if pil.mode == "RGBA" or pil.mode == "LA" or (pil.mode == "P" and "transparency" in pil.info):
        pil = pil.convert("RGBA")
    elif pil.mode != "RGB":
        pil = pil.convert("RGB")
    return as_rgb(np.asarray(pil))


def as_rgb(array: np.ndarray) -> np.ndarray:
    """Convert a decoded image array to C-contiguous (H, W, 3) uint8 RGB.

    Greyscale is replicated to 3 channels; alpha is composited over white (so
    a transparent background does not become black); 16-bit integers are
    scaled by 1/257; floats are taken as [0, 1].
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or min(array.shape[:2]) == 0:
        raise InvalidInputError(MSG_BAD_ARRAY.format(shape=array.shape))
    array = _to_uint8(array)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        rgb = array[:, :, :3].astype(np.float32)
        array = np.rint(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        return np.rint(np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0).astype(np.uint8)
    if array.dtype == np.uint16 or (np.issubdtype(array.dtype, np.integer) and array.max(initial=0) > 255):
        # Integer images with values beyond 8 bits are treated as 16-bit.
        return np.rint(np.clip(array, 0, 65535).astype(np.float32) / 257.0).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)


def check_min_size(image: np.ndarray, min_side: int = MIN_IMAGE_SIDE) -> None:
    """Raise ImageTooSmallError when the shorter side is below `min_side`."""
    h, w = image.shape[:2]
    if min(h, w) < min_side:
        raise ImageTooSmallError(MSG_TOO_SMALL.format(h=h, w=w, min_side=min_side))


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under `folder` (recursive), sorted for reproducibility."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
