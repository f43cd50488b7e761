"""CK+ 48x48 crops: <expression folder>/S<subject>_<sequence>_<frame>.png.

At 48 px the landmark detectors find no face, and the crops are already tight and
roughly aligned, so this source is preprocessed as "full_crop": the whole crop is
upscaled to the target size and the mask is the inscribed ellipse (see
legan.data.preprocess.full_crop_preprocess).
"""
from __future__ import annotations

import re
from pathlib import Path

from legan.data.sources.records import ScanResult, list_files

DATASET = "ckplus48"
FILE_PATTERN = re.compile(r"^S(\d{3})_(\d{3})_(\d{8})\.png$", re.IGNORECASE)
FOLDER_EXPRESSIONS = {
    "anger": "anger", "contempt": "contempt", "disgust": "disgust", "fear": "fear",
    "happy": "happy", "sadness": "sad", "surprise": "surprise", "neutral": "neutral",
}
EXPRESSIONS = ("neutral", "happy", "sad", "surprise", "anger", "disgust", "fear", "contempt")
LIGHTINGS = ("normal",)


def parse_name(name: str) -> dict | None:
    match = FILE_PATTERN.match(name)
    if match is None:
        return None
    subject, sequence, frame = match.groups()
    return {"subject": subject, "sequence": sequence, "frame": int(frame)}


def scan(root: str | Path) -> ScanResult:
    root = Path(root)
    result = ScanResult(DATASET, expressions=EXPRESSIONS, lightings=LIGHTINGS, preprocess="full_crop")
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        expression = FOLDER_EXPRESSIONS.get(folder.name.lower())
        for path in list_files(folder, recursive=False):
            fields = parse_name(path.name)
            if expression is None:
                result.exclude(path, "unknown_label", f"folder '{folder.name}' is no expression")
            elif fields is None:
                result.exclude(path, "unparsed", "name is not S###_###_########.png")
            else:
                result.add(path, f"S{fields['subject']}", expression, "normal", f"{folder.name}_{path.stem}")
    return result
