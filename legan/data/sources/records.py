"""What a dataset scanner returns: labelled source files, and files it left out with a reason."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceRecord:
    """One source image with its labels.

    `group`: images of one capture series (same subject, pose and camera, shot within
    a second) share landmarks: they are detected on the group's best-lit member
    (lowest `group_rank`) and reused for the rest, whose lighting may be too dark to
    detect a face in. None = detect on this image alone.
    """

    path: Path
    subject: str
    expression: str
    lighting: str
    relative_name: str  # unique, filesystem-safe stem for the cached outputs
    group: str | None = None
    group_rank: int = 0


@dataclass(frozen=True)
class ExcludedFile:
    path: Path
    reason: str  # short stable code, e.g. "bad_file", "ambient", "unparsed"
    detail: str = ""


@dataclass
class ScanResult:
    dataset: str
    records: list[SourceRecord] = field(default_factory=list)
    excluded: list[ExcludedFile] = field(default_factory=list)
    expressions: tuple[str, ...] = ()
    lightings: tuple[str, ...] = ()
    # "landmarks": detect + align + hull mask; "full_crop": the file already is a tight
    # face crop too small for landmarks (CK+ 48x48): upscale it and use an ellipse mask.
    preprocess: str = "landmarks"

    def add(self, path: Path, subject: str, expression: str, lighting: str, relative_name: str,
            group: str | None = None, group_rank: int = 0) -> None:
        """A labelled image; `subject` is the dataset's own id, stored as "<dataset>:<id>" so
        that subjects of different datasets never merge."""
        self.records.append(SourceRecord(path=path, subject=f"{self.dataset}:{subject}", expression=expression,
                                         lighting=lighting, relative_name=relative_name, group=group,
                                         group_rank=group_rank))

    def exclude(self, path: Path, reason: str, detail: str = "") -> None:
        self.excluded.append(ExcludedFile(path, reason, detail))


def list_files(root: Path, suffixes: tuple[str, ...] = (), recursive: bool = True) -> list[Path]:
    """The files under root (below it too when recursive), sorted; only those ending in one of
    `suffixes` (case-insensitive) when given."""
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in found if p.is_file() and (not suffixes or p.suffix.lower() in suffixes))
