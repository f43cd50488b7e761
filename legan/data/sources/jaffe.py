"""JAFFE: XX.EEn.id.tiff, subject XX, expression code EE, repetition n, image id."""
from __future__ import annotations

import re
from pathlib import Path

from legan.data.sources.records import ScanResult, list_files

DATASET = "jaffe"
FILE_PATTERN = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)\.tiff?$", re.IGNORECASE)
EXPRESSION_CODES = {
    "AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happy",
    "NE": "neutral", "SA": "sad", "SU": "surprise",
}
EXPRESSIONS = ("neutral", "happy", "sad", "surprise", "anger", "disgust", "fear")
LIGHTINGS = ("normal",)


def parse_name(name: str) -> dict | None:
    match = FILE_PATTERN.match(name)
    if match is None or match.group(2).upper() not in EXPRESSION_CODES:
        return None
    subject, code, repetition, image_id = match.groups()
    return {
        "subject": subject.upper(),
        "expression": EXPRESSION_CODES[code.upper()],
        "repetition": int(repetition),
        "image_id": int(image_id),
    }


def scan(root: str | Path) -> ScanResult:
    root = Path(root)
    result = ScanResult(DATASET, expressions=EXPRESSIONS, lightings=LIGHTINGS)
    for path in list_files(root, (".tif", ".tiff")):
        fields = parse_name(path.name)
        if fields is None:
            result.exclude(path, "unparsed", "name is not XX.EEn.id.tiff")
        else:
            result.add(path, fields["subject"], fields["expression"], "normal", path.stem.replace(".", "_"))
    return result
