"""Run folders: numbered directories holding the resolved config, JSONL stats, plots, samples
and checkpoints of one training run (stylegan2-ada style).

    runs/legan/00000-legan-smoke/
        config.json  stats.jsonl  losses.png  samples/  checkpoints/
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

CONFIG_NAME = "config.json"
STATS_NAME = "stats.jsonl"
PLOT_NAME = "losses.png"
SAMPLES_DIR = "samples"
CHECKPOINTS_DIR = "checkpoints"

_RUN_NUMBER = re.compile(r"^(\d{5})-")


def _safe_name(description: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", description).strip("-") or "run"


def _next_number(root: Path) -> int:
    numbers = [int(m.group(1)) for p in (root.iterdir() if root.is_dir() else [])
               if (m := _RUN_NUMBER.match(p.name))]
    return max(numbers, default=-1) + 1


def next_run_dir(root: str | os.PathLike, description: str) -> Path:
    """root/NNNNN-description with NNNNN one past the highest existing run number (not created)."""
    root = Path(root)
    return root / f"{_next_number(root):05d}-{_safe_name(description)}"


def make_run_dir(root: str | os.PathLike, description: str) -> Path:
    """Like next_run_dir, but created; a number another process took meanwhile is skipped."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    number = _next_number(root)
    while True:
        run_dir = root / f"{number:05d}-{_safe_name(description)}"
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            number += 1


def write_json(path: str | os.PathLike, data: dict) -> Path:
    """Write atomically (tmp + rename): a reader never sees half a file."""
    path = Path(path)
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
    return path


def write_config(run_dir: str | os.PathLike, config_dict: dict) -> Path:
    return write_json(Path(run_dir) / CONFIG_NAME, config_dict)


def read_config(run_dir: str | os.PathLike) -> dict:
    return json.loads((Path(run_dir) / CONFIG_NAME).read_text())


class StatsWriter:
    """Appends one JSON object per line. On resume it drops the lines whose `key` (the step
    counter: "step" or "iteration") is past the checkpoint, so the file reads as if the run had
    never been interrupted."""

    def __init__(self, path: str | os.PathLike, resume_at: int | None = None, key: str = "step") -> None:
        self.path = Path(path)
        if resume_at is not None and self.path.is_file():
            kept = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line).get(key, 0) <= resume_at]
            self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, default=float) + "\n")


def read_stats(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
