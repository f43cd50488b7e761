"""Score face images with a trained Q.

API: score_images(model, images) -> np.ndarray of scores (0-10 scale, unclamped), where images
are (H, W, 3) uint8 RGB faces that are already aligned and hull-masked (faces.pipeline output).

CLI: python -m quality.score --checkpoint CKPT --images DIR_OR_LIST.txt --out scores.csv [--prepare]
  Without --prepare the files must already be prepared faces (they are centre-cropped and
  resized to the model's input size if needed). With --prepare, raw photos go through
  faces.pipeline.prepare_masked_face first (landmarks, alignment, hull mask). Files that cannot
  be read or hold no face get an empty score and the reason in the error column.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from faces.errors import UnreadableImageError
from faces.io import list_images, load_rgb
from faces.io import ImageSource
from quality.checkpoint import quality_contract
from runkit.contract import InputContract, model_input
from runkit.device import select_device

FACES_UNAVAILABLE = ("--prepare needs the faces package (faces.pipeline.prepare_masked_face), "
                     "which could not be imported: {reason}")
NO_IMAGES = "No image files found in {source}"
LIST_ENTRY_MISSING = "Image list {source} names files that do not exist: {files}"


@torch.no_grad()
def score_images(model: torch.nn.Module, images: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
    """(N,) float32 scores for a list of (H, W, 3) uint8 RGB masked faces."""
    if len(images) == 0:
        return np.zeros(0, np.float32)
    device = next(model.parameters()).device
    contract = input_contract(model)
    was_training = model.training
    model.eval()
    scores = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        batch = torch.stack([model_input(im, contract) for im in chunk])
        scores.append(model(batch.to(device)).float().cpu())  # (B,)
    model.train(was_training)
    return torch.cat(scores).numpy()


def input_contract(model: torch.nn.Module) -> InputContract:
    """The contract load_quality_model attached, or Q's default for a model built in memory."""
    return getattr(model, "input_contract", None) or quality_contract(model.config)


def prepare_face(source: ImageSource, contract: InputContract) -> np.ndarray:
    """A raw photo (path, bytes or array) -> the face Q reads, as its contract says: decoded by the
    one decoder (EXIF orientation, alpha over white), aligned and hull-masked at the contract's
    size. The API's uploads and `--prepare` both come through here."""
    from faces.pipeline import prepare_masked_face

    image = load_rgb(source)
    return prepare_masked_face(image, size=contract.size).image if contract.mask == "hull" else image


def collect_image_paths(source: str | Path) -> list[Path]:
    """A folder (recursive) or a text file with one image path per line (relative to the file)."""
    source = Path(source)
    if source.is_dir():
        paths = list_images(source)
    elif source.is_file():
        lines = [ln.strip() for ln in source.read_text().splitlines()]
        paths = [p if p.is_absolute() else source.parent / p
                 for p in (Path(ln) for ln in lines if ln and not ln.startswith("#"))]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(LIST_ENTRY_MISSING.format(source=source, files=", ".join(missing[:10])))
    else:
        raise FileNotFoundError(NO_IMAGES.format(source=source))
    if not paths:
        raise FileNotFoundError(NO_IMAGES.format(source=source))
    return paths


def face_preparer(contract: InputContract) -> Callable[[np.ndarray], np.ndarray]:
    """prepare_face for this contract; faces.pipeline (landmark models) is checked up front so a
    missing backend is one clear error, not one per file."""
    try:
        import faces.pipeline  # noqa: F401
    except Exception as err:  # ImportError, or faces/ half-built
        raise RuntimeError(FACES_UNAVAILABLE.format(reason=f"{type(err).__name__}: {err}")) from None
    return lambda image: prepare_face(image, contract)


def read_faces(paths: list[Path], prepare: Callable | None) -> tuple[list[np.ndarray], list[str]]:
    """Images (None where unusable) and per-file error strings ('' when fine)."""
    images, errors = [], []
    for path in paths:
        try:
            image = load_rgb(path)
            images.append(prepare(image) if prepare is not None else image)
            errors.append("")
        except UnreadableImageError as err:
            images.append(None)
            errors.append(str(err))
        except Exception as err:  # faces.errors.FaceAnalysisError and friends
            images.append(None)
            errors.append(f"{getattr(err, 'reason', type(err).__name__)}: {err}")
    return images, errors


def main(argv: list[str] | None = None) -> int:
    from quality.checkpoint import CheckpointError, load_quality_model

    parser = argparse.ArgumentParser(prog="python -m quality.score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--images", required=True, help="folder of images or a text file listing them")
    parser.add_argument("--out", required=True, help="CSV to write: path,score,error")
    parser.add_argument("--prepare", action="store_true", help="run faces/ preprocessing on raw photos")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    try:
        device = select_device("auto")
        model = load_quality_model(args.checkpoint, map_location=device)
        prepare = face_preparer(input_contract(model)) if args.prepare else None
        paths = collect_image_paths(args.images)
    except (CheckpointError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    images, errors = read_faces(paths, prepare)
    ok = [i for i, im in enumerate(images) if im is not None]
    scores = score_images(model, [images[i] for i in ok], args.batch_size)
    by_index = dict(zip(ok, scores.tolist()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "score", "error"])
        for i, path in enumerate(paths):
            score = by_index.get(i)
            writer.writerow([str(path), "" if score is None else f"{score:.4f}", errors[i]])
    failed = len(paths) - len(ok)
    print(f"scored {len(ok)} image(s), {failed} failed -> {args.out}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
