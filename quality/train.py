"""Train the quality model Q on crowd labels (LEGAN paper, section 3).

API: train(config, run_dir=..., resume=False, on_progress=None, should_stop=None) -> TrainResult
CLI: python -m quality.train --labels export.csv [--runs-root runs/q | --run-dir DIR] ...
     (see quality/train_cli.py and `--help`).

Exact resume: batches come from a permutation seeded by (seed, epoch), mirror flips from a
generator seeded by (seed, step), and the checkpoint holds model, optimizer, scheduler, grad
scaler and RNG states, so N steps straight and N/2 + stop + resume N/2 give the same weights.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from quality.checkpoint import load_checkpoint, quality_contract
from quality.config import ConfigError, TrainConfig, resume_mismatches
from quality.data import EpochBatchSampler, QualityDataset, make_train_loader, random_mirror
from quality.evaluate import evaluate_labels, predict
from quality.labels import load_labels
from quality.losses import QualityLoss, get_loss
from quality.metrics import compute_metrics, json_safe
from quality.model import QualityNet, count_parameters
from quality.plots import plot_stats
from quality.runtime import make_autocast, make_scheduler
from quality.splits import split_labels
from runkit.checkpoints import (capture_rng, checkpoint_path, latest_checkpoint, refuse_used_run_dir,
                                restore_rng, save_checkpoint)
from runkit.device import select_device
from runkit.loop import IterationLoop, LoopHooks, TrainingStopped, TrainResult  # noqa: F401 (TrainingStopped: re-exported)
from runkit.runs import CHECKPOINTS_DIR, CONFIG_NAME, STATS_NAME, StatsWriter, write_json

EMPTY_TRAIN_SPLIT = "The training split is empty ({n} labelled images in total); add more labels"
RESUME_MISMATCH = "Cannot resume {ckpt}: the given config differs in {fields}"

ProgressFn = Callable[[int, int, dict], None]


@dataclass
class _Setup:
    splits: dict
    device: torch.device
    model: QualityNet
    steps_per_epoch: int
    total_steps: int


def _build(config: TrainConfig) -> _Setup:
    """Validate config and labels, split, build Q. Shared by train() and dry_run()."""
    config.validate()
    labels = load_labels(config.labels, config.images_root)
    split_seed = config.seed if config.split_seed is None else config.split_seed
    splits = split_labels(labels, split_seed, config.split_fractions)
    if len(splits["train"]) == 0:
        raise ConfigError(EMPTY_TRAIN_SPLIT.format(n=len(labels)))
    device = select_device(config.device)
    torch.manual_seed(config.seed)  # deterministic initial weights
    model = QualityNet(copy.deepcopy(config.model))
    if config.offset_from_train_mean:
        model.set_output_offset(float(splits["train"]["mu"].mean()))
    steps_per_epoch = EpochBatchSampler.batches_per_epoch(len(splits["train"]), config.batch_size)
    total_steps = config.max_steps or config.epochs * steps_per_epoch
    return _Setup(splits, device, model.to(device), steps_per_epoch, total_steps)


def dry_run(config: TrainConfig, decode_images: bool = True) -> dict:
    """Validate options and data and build the model without taking a step."""
    setup = _build(config)
    if decode_images:  # corrupt files fail here, naming the file, not hours into a run
        for frame in setup.splits.values():
            dataset = QualityDataset(frame, config.model.image_size, cache=False)
            for i in range(len(dataset)):
                dataset.load_image(i)
    _, _, amp = make_autocast(config.amp, setup.device)
    return {"parameters": count_parameters(setup.model), "device": str(setup.device), "amp": amp,
            "splits": {k: len(v) for k, v in setup.splits.items()},
            "steps_per_epoch": setup.steps_per_epoch, "total_steps": setup.total_steps,
            "output_offset": float(setup.model.output_offset)}


def _flip_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 7_919 + step + 1)


def train(config: TrainConfig, *, run_dir: str | Path, resume: bool = False,
          on_progress: ProgressFn | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    setup = _build(config)
    model, device = setup.model, setup.device
    train_ds = QualityDataset(setup.splits["train"], config.model.image_size, config.cache_images)
    val_ds = QualityDataset(setup.splits["val"], config.model.image_size, config.cache_images)

    fused = {"fused": True} if device.type == "cuda" else {}  # one kernel per update on CUDA
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas,
                                 weight_decay=config.weight_decay, **fused)
    scheduler = make_scheduler(optimizer, config.lr_schedule, config.warmup_steps, setup.total_steps)
    autocast, scaler, amp_mode = make_autocast(config.amp, device)
    loss = QualityLoss(model, config.loss, autocast)

    step = 0
    ckpt_dir = run_dir / CHECKPOINTS_DIR
    refuse_used_run_dir(run_dir, ckpt_dir, resume, ConfigError)
    ckpt = latest_checkpoint(ckpt_dir)
    if resume and ckpt is not None:
        payload = load_checkpoint(ckpt, map_location=device)
        diff = resume_mismatches(payload["train_config"], config.to_dict())
        if diff:
            raise ConfigError(RESUME_MISMATCH.format(ckpt=ckpt, fields=", ".join(diff)))
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        if scaler is not None and payload.get("scaler"):
            scaler.load_state_dict(payload["scaler"])
        restore_rng(payload["rng"])
        step = int(payload["step"])

    write_json(run_dir / CONFIG_NAME, {
        "train": config.to_dict(), "model_resolved": model.config.to_dict(),
        "device": str(device), "amp": amp_mode, "parameters": count_parameters(model),
        "splits": {k: len(v) for k, v in setup.splits.items()},
        "steps_per_epoch": setup.steps_per_epoch, "total_steps": setup.total_steps,
        "torch": torch.__version__})
    stats_path = run_dir / STATS_NAME
    stats_log = StatsWriter(stats_path, resume_at=step)

    def save(at_step: int) -> Path:
        return save_checkpoint(checkpoint_path(ckpt_dir, at_step), {
            "model": model.state_dict(), "model_config": model.config.to_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "step": at_step, "train_config": config.to_dict(), "rng": capture_rng(),
            "input_contract": quality_contract(model.config).to_dict(),
            "amp": amp_mode, "torch": torch.__version__}, keep=config.keep_checkpoints)

    def validate_now() -> dict:
        if len(val_ds) == 0:
            return {}
        pred = predict(model, val_ds, max(config.batch_size, 64), device)
        mu, sigma = val_ds.mu.numpy(), val_ds.sigma.numpy()
        metrics = compute_metrics(pred, mu, sigma)
        val_loss = float(get_loss(config.loss)(torch.from_numpy(pred), val_ds.mu, val_ds.sigma))
        out = {f"Metrics/val/{k}": v for k, v in metrics.items() if k != "count"}
        out[f"Loss/Q/val_{config.loss}"] = val_loss
        return out

    window: dict[str, list[float]] = defaultdict(list)
    images_per_step = min(config.batch_size, len(train_ds))  # the ragged last batch is dropped

    def log(at_step: int, done: bool, sec_per_step: float | None, validation: dict) -> dict:
        record: dict = {}
        if sec_per_step is not None:  # a log line; else only the validation is due
            record.update({k: float(np.mean(v)) for k, v in window.items()})
            record.update({"Progress/lr": scheduler.get_last_lr()[0],
                           "Progress/epoch": (at_step - 1) // setup.steps_per_epoch,
                           "Timing/images_per_s": images_per_step / max(sec_per_step, 1e-9)})
            window.clear()
        record.update(validation)
        if record:
            record = {"step": at_step, **record}
            stats_log.write(record)
            if on_progress is not None:
                on_progress(at_step, setup.total_steps, json_safe(record))
        return record

    hooks = LoopHooks(log=log, checkpoint=save, validate=validate_now,
                      stop_requested=lambda: should_stop is not None and bool(should_stop()))
    # A stop is asked before each step (a job cancelled before its first step takes none), and
    # validation keeps its own interval (eval_every, default one epoch), apart from log lines.
    loop = IterationLoop(hooks, start=step, total=setup.total_steps, per_epoch=setup.steps_per_epoch,
                         log_every=config.log_every, sample_every=0, checkpoint_every=config.checkpoint_every,
                         validate_every=config.eval_every or setup.steps_per_epoch, validate_apart=True,
                         stop_before_step=True)
    model.train()
    sampler = EpochBatchSampler(len(train_ds), config.batch_size, config.seed, 0)
    loader = make_train_loader(train_ds, sampler, num_workers=config.num_workers, pin_memory=device.type == "cuda")
    for epoch, start_batch in loop.positions():
        sampler.set_position(epoch, start_batch)
        for images, mu, sigma in loader:  # (B, 3, S, S), (B,), (B,)
            loop.begin_iteration()
            if config.mirror:
                images = random_mirror(images, _flip_generator(config.seed, loop.iteration))
            images, mu, sigma = (t.to(device, non_blocking=True) for t in (images, mu, sigma))
            optimizer.zero_grad(set_to_none=True)
            stats = loss.accumulate_gradients(images, mu, sigma,
                                              scale=scaler.scale if scaler is not None else None)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            for key, value in stats.items():
                window[key].append(value)
            if loop.end_iteration():
                break
    loop.close()
    step = loop.iteration
    # the last step's checkpoint, or (a finished run resumed) the state it was resumed from
    final_ckpt = loop.last_checkpoint or save(step)
    metrics = {"step": step}
    for name in ("val", "test"):
        if len(setup.splits[name]):
            metrics[name] = json_safe(evaluate_labels(model, setup.splits[name], out_dir=run_dir / "eval",
                                                      name=name, device=device))
    write_json(run_dir / "metrics.json", metrics)
    plot_stats(stats_path, run_dir)
    return TrainResult(run_dir=run_dir, checkpoint_path=final_ckpt, metrics=metrics)


if __name__ == "__main__":
    # `python -m quality.train` stays the command: hand over to the CLI module by name, without
    # an import, so the library never depends on its CLI.
    import runpy

    runpy.run_module("quality.train_cli", run_name="__main__", alter_sys=True)
