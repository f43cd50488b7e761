"""Q training and scoring as platform jobs: the bridge between the label export and the
pure-PyTorch `quality` package."""
from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction

from ratings_site.core.selectors import number_next
from ratings_site.jobs.runner import JobContext
from ratings_site.labels.services import export_bytes, labels_frame

from .models import QualityModelVersion
from .selectors import quality_version_current

LABELS_FILE = "labels.csv"


def labels_snapshot_write(study, run_dir: Path) -> str:
    """Write the study's labels into the run folder once; a resumed run reuses the same
    snapshot, so resuming never changes the data under a half-trained model."""
    path = run_dir / LABELS_FILE
    if not path.exists():
        frame = labels_frame(study)
        frame = frame[frame["n_raters"] >= 2].dropna(subset=["std"])  # a label needs a spread
        if frame.empty:
            raise ValueError(f"Study '{study}' has no labels with at least 2 ratings; compute labels first.")
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(export_bytes(frame, "csv"))
        tmp.replace(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def quality_config(params: dict, labels_path: Path):
    from quality.config import TrainConfig

    config = TrainConfig.from_dict({**params, "labels": str(labels_path), "images_root": str(settings.MEDIA_ROOT)})
    config.validate()
    return config


def quality_train_body(context: JobContext) -> dict:
    from quality.train import train
    from runkit.checkpoints import latest_checkpoint
    from runkit.runs import CHECKPOINTS_DIR

    job = context.job
    data_hash = labels_snapshot_write(job.study, context.run_dir)
    config = quality_config(job.params.get("config", {}), context.run_dir / LABELS_FILE)
    resumed_from = latest_checkpoint(context.run_dir / CHECKPOINTS_DIR)
    result = train(
        config, run_dir=context.run_dir, resume=resumed_from is not None,
        on_progress=context.on_progress, should_stop=context.should_stop,
    )
    version = quality_version_create(job=job, checkpoint=result.checkpoint_path, config=config.to_dict(),
                                     metrics=result.metrics, data_hash=data_hash)
    return {"metrics": result.metrics, "version": version.number,
            "resumed_from_step": _step_of(resumed_from), "checkpoint": str(result.checkpoint_path)}


def _step_of(path: Path | None) -> int | None:
    if path is None:
        return None
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    return int(digits) if digits else None


def quality_plots(run_dir: Path) -> list[Path]:
    from quality.plots import plot_stats

    stats = run_dir / "stats.jsonl"
    return plot_stats(stats, run_dir) if stats.exists() and stats.stat().st_size else []


def quality_version_create(*, job, checkpoint: Path, config: dict, metrics: dict, data_hash: str) -> QualityModelVersion:
    with transaction.atomic():
        # A worker killed after recording the version but before the job was marked done gets
        # its job re-run: the version it recorded stands (one version per job).
        recorded = QualityModelVersion.objects.select_for_update().filter(job=job).first()
        if recorded is not None:
            return recorded
        number = number_next(QualityModelVersion.objects.all())
        first = quality_version_current() is None
        version = QualityModelVersion(number=number, job=job, study=job.study, config=config, metrics=metrics,
                                      data_hash=data_hash, is_current=first)
        with open(checkpoint, "rb") as fh:
            version.checkpoint.save(f"quality/q-v{number}.pt", File(fh), save=False)
        version.save()
    return version
