"""Yale Face Database (A): subjectNN.<condition>[.<anything>].

Conditions: centerlight/leftlight/rightlight -> lighting center/left/right (image
coordinates, checked on the files), neutral expression; happy, sad, sleepy,
surprised, wink, normal -> that expression ("surprised" -> "surprise", "normal" ->
"neutral") under "normal" light; glasses/noglasses -> neutral, normal light.
subject04.sad is a byte copy of subject04.normal (the original was corrupted, see
the dataset's Readme): exact duplicates of a subject's "normal" image are skipped.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from legan.data.sources.records import ScanResult, list_files

DATASET = "yale_a"
FILE_PATTERN = re.compile(r"^subject(\d{2})\.([a-z]+)(\..*)?$")
CONDITIONS = {
    "centerlight": ("neutral", "center"),
    "leftlight": ("neutral", "left"),
    "rightlight": ("neutral", "right"),
    "happy": ("happy", "normal"),
    "sad": ("sad", "normal"),
    "sleepy": ("sleepy", "normal"),
    "surprised": ("surprise", "normal"),
    "wink": ("wink", "normal"),
    "normal": ("neutral", "normal"),
    "glasses": ("neutral", "normal"),
    "noglasses": ("neutral", "normal"),
}
EXPRESSIONS = ("neutral", "happy", "sad", "sleepy", "surprise", "wink")
LIGHTINGS = ("normal", "center", "left", "right")


def parse_name(name: str) -> dict | None:
    match = FILE_PATTERN.match(name)
    if match is None or match.group(2) not in CONDITIONS:
        return None
    expression, lighting = CONDITIONS[match.group(2)]
    return {"subject": match.group(1), "condition": match.group(2), "expression": expression, "lighting": lighting}


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def scan(root: str | Path) -> ScanResult:
    root = Path(root)
    result = ScanResult(DATASET, expressions=EXPRESSIONS, lightings=LIGHTINGS)
    parsed = []
    for path in list_files(root, recursive=False):
        if not path.name.startswith("subject"):
            continue  # Readme.txt etc.
        fields = parse_name(path.name)
        if fields is None:
            result.exclude(path, "unparsed", "name is not subjectNN.<condition>")
            continue
        parsed.append((path, fields))
    normal_digests = {f["subject"]: _digest(p) for p, f in parsed if f["condition"] == "normal"}
    for path, fields in parsed:
        if fields["condition"] != "normal" and normal_digests.get(fields["subject"]) == _digest(path):
            result.exclude(path, "duplicate", "byte copy of the subject's normal image")
            continue
        result.add(path, fields["subject"], fields["expression"], fields["lighting"],
                   f"subject{fields['subject']}_{fields['condition']}")
    return result
