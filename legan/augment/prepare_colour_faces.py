"""Align a folder of colour face photos into the crops the colouriser should learn from.

    python -m legan.augment.prepare_colour_faces --images SRC --out DST [--size 128]

LEGAN recolours eye-aligned 128 x 128 faces, so its colourisers train best on the same
framing: every image is aligned with legan.data.preprocess.FacePreprocessor (faces/'
detector) and saved unmasked as DST/<name>.png; images without a face are listed in
DST/skipped.csv. Like the manifest cache, DST belongs outside the repository.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from tqdm import tqdm

from faces.errors import UnreadableImageError
from legan.augment.colorize_data import list_images
from legan.data.images import read_image, save_image
from legan.data.preprocess import DEFAULT_SIZE, FacePreprocessor


def prepare_colour_faces(src: str | Path, dst: str | Path, size: int = DEFAULT_SIZE, progress: bool = True) -> dict:
    from faces.errors import FaceAnalysisError

    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    preprocessor = FacePreprocessor(size=size)
    kept, skipped = 0, []
    for path in tqdm(list_images(src), desc="align colour faces", disable=not progress):
        out = dst / f"{path.stem}.png"
        if out.is_file():
            kept += 1
            continue
        try:
            image, _ = read_image(path)
            aligned, _ = preprocessor(image)
        except (FaceAnalysisError, UnreadableImageError) as exc:
            skipped.append((str(path), getattr(exc, "reason", "unreadable"), str(exc)))
            continue
        save_image(out, aligned)
        kept += 1
    with open(dst / "skipped.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_path", "reason", "detail"])
        writer.writerows(skipped)
    return {"kept": kept, "skipped": len(skipped), "out": str(dst)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Align colour face photos for colouriser training.")
    parser.add_argument("--images", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    args = parser.parse_args(argv)
    try:
        print(prepare_colour_faces(args.images, args.out, args.size))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
