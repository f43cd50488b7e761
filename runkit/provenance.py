"""Where a result came from, as every results file (run.json, report.json) records it: the
commit of the code that ran and the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


def git_commit(root: str | os.PathLike = REPO_ROOT) -> str:
    """HEAD of the checkout holding `root`, with "-dirty" when tracked files differ from it;
    "unknown" outside a checkout or without git. Read it at the start of a run: the code that
    runs, even if the checkout moves on meanwhile."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def device_description(device: str | torch.device) -> str:
    """The GPU's name, or the CPU's kind with its visible cores and torch's threads."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    return (f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
            f"{torch.get_num_threads()} torch threads)")
