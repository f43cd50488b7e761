"""Extended Yale Face Database B (cropped): yaleBNN/yaleBNN_P00A+aaaE+ee.pgm.

aaa = light azimuth, ee = elevation, degrees from the camera axis. Positive azimuth
lights the subject's right side, which is the IMAGE LEFT (checked on the files), so
lighting names below are in image coordinates, as Yale A's "leftlight" is.

Lighting bins (coarse, 5 classes), with a = azimuth, e = elevation:
  frontal : |a| <= 20 and |e| <= 20
  left    : a > 0 and |a| >= |e|      (light from the image left)
  right   : a < 0 and |a| >= |e|
  top     : e > 0 and |e| > |a|
  bottom  : e < 0 and |e| > |a|
Per subject that gives frontal 15, left 20, right 20, top 6, bottom 3 of the 64 directions.
`_P00_Ambient` (no light source, nearly black) is its own class "ambient" only when
asked; `.bad` files (corrupt captures flagged by the dataset) are always skipped.
All crops of one subject share the pose and camera: one capture series.
"""
from __future__ import annotations

import re
from pathlib import Path

from legan.data.sources.records import ScanResult, list_files

DATASET = "yale_b"
FILE_PATTERN = re.compile(r"^yaleB(\d{2})_P(\d{2})A([+-]\d{3})E([+-]\d{2})\.pgm$")
AMBIENT_PATTERN = re.compile(r"^yaleB(\d{2})_P(\d{2})_Ambient\.pgm$")
FRONTAL_MAX_DEG = 20
LIGHTINGS = ("frontal", "left", "right", "top", "bottom")
EXPRESSIONS = ("neutral",)
# The light direction (azimuth, elevation) that stands for each bin when a target image is
# needed (legan.data.pairs): the bin's most typical direction that every subject has.
CANONICAL_DIRECTIONS = {"frontal": (0, 0), "left": (50, 0), "right": (-50, 0), "top": (0, 45),
                        "bottom": (0, -35), "ambient": (0, 0)}


def lighting_bin(azimuth: int, elevation: int) -> str:
    if abs(azimuth) <= FRONTAL_MAX_DEG and abs(elevation) <= FRONTAL_MAX_DEG:
        return "frontal"
    if abs(azimuth) >= abs(elevation):
        return "left" if azimuth > 0 else "right"
    return "top" if elevation > 0 else "bottom"


def parse_name(name: str) -> dict | None:
    match = FILE_PATTERN.match(name)
    if match:
        subject, pose, azimuth, elevation = match.groups()
        return {"subject": subject, "pose": pose, "azimuth": int(azimuth), "elevation": int(elevation)}
    match = AMBIENT_PATTERN.match(name)
    if match:
        return {"subject": match.group(1), "pose": match.group(2), "azimuth": None, "elevation": None}
    return None


def scan(root: str | Path, include_ambient: bool = False) -> ScanResult:
    root = Path(root)
    lightings = LIGHTINGS + (("ambient",) if include_ambient else ())
    result = ScanResult(DATASET, expressions=EXPRESSIONS, lightings=lightings)
    for path in list_files(root):
        if path.name.endswith(".bad"):
            result.exclude(path, "bad_file", "flagged corrupt by the dataset (.bad)")
            continue
        if path.suffix.lower() != ".pgm":
            continue  # .info lists and other side files
        fields = parse_name(path.name)
        if fields is None:
            result.exclude(path, "unparsed", "name is not yaleBNN_P00A+aaaE+ee.pgm")
            continue
        if fields["azimuth"] is None:
            if not include_ambient:
                result.exclude(path, "ambient", "ambient-only shot excluded")
                continue
            lighting, rank = "ambient", 10_000
        else:
            lighting = lighting_bin(fields["azimuth"], fields["elevation"])
            rank = abs(fields["azimuth"]) + abs(fields["elevation"])  # frontal light first
        result.add(path, fields["subject"], "neutral", lighting, path.stem,
                   group=f"{fields['subject']}_P{fields['pose']}", group_rank=rank)
    return result
