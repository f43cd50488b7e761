"""CMU Multi-PIE, by its documented naming (the dataset itself is licensed and not here).

Layout: <session>/multiview/<subject>/<recording>/<camera>/<file>, e.g.
session01/multiview/001/01/05_1/001_01_01_051_07.png, and the file name alone is
subject_session_recording_camera_illumination. Camera 05_1 ("051") is frontal.
20 illuminations 00-19 (00 and 19 no flash). Expressions are fixed per session/recording.
"""
from __future__ import annotations

import re
from pathlib import Path

from legan.data.sources.records import ScanResult, list_files

DATASET = "multipie"
FILE_PATTERN = re.compile(r"^(\d{3})_(\d{2})_(\d{2})_(\d{3})_(\d{2})\.(png|jpg|jpeg)$", re.IGNORECASE)
FRONTAL_CAMERA = "051"

# (session, recording) -> expression, from the Multi-PIE documentation.
EXPRESSION_BY_RECORDING = {
    (1, 1): "neutral", (1, 2): "smile",
    (2, 1): "neutral", (2, 2): "surprise", (2, 3): "squint",
    (3, 1): "neutral", (3, 2): "smile", (3, 3): "disgust",
    (4, 1): "neutral", (4, 2): "neutral", (4, 3): "scream",
}
EXPRESSIONS = ("neutral", "smile", "surprise", "squint", "disgust", "scream")
LIGHTINGS = tuple(f"{i:02d}" for i in range(20))
# Flash 07 lights the face frontally for camera 05_1: the series' landmark reference.
REFERENCE_ILLUMINATION = 7


def parse_name(name: str) -> dict | None:
    match = FILE_PATTERN.match(name)
    if match is None:
        return None
    subject, session, recording, camera, illumination = match.groups()[:5]
    return {
        "subject": subject,
        "session": int(session),
        "recording": int(recording),
        "camera": camera,
        "illumination": int(illumination),
    }


def scan(root: str | Path, cameras: tuple[str, ...] = (FRONTAL_CAMERA,)) -> ScanResult:
    root = Path(root)
    result = ScanResult(DATASET, expressions=EXPRESSIONS, lightings=LIGHTINGS)
    for path in list_files(root, (".png", ".jpg", ".jpeg")):
        fields = parse_name(path.name)
        if fields is None:
            result.exclude(path, "unparsed", "name is not subject_session_recording_camera_illum")
            continue
        if fields["camera"] not in cameras:
            result.exclude(path, "camera", f"camera {fields['camera']} not in {cameras}")
            continue
        expression = EXPRESSION_BY_RECORDING.get((fields["session"], fields["recording"]))
        if expression is None or not 0 <= fields["illumination"] < 20:
            result.exclude(path, "unknown_condition", "no such session/recording/illumination")
            continue
        series = f"{fields['subject']}_{fields['session']:02d}_{fields['recording']:02d}_{fields['camera']}"
        result.add(path, fields["subject"], expression, f"{fields['illumination']:02d}", path.stem,
                   group=series, group_rank=abs(fields["illumination"] - REFERENCE_ILLUMINATION))
    return result
