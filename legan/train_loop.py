"""What LEGAN's trainers (legan.train and legan.stargan_v2.train) share around their model step:
the run folder, resume, the stats line, the sample grid, the validation, the checkpoint every
process takes part in, and a stop every process agrees on, on runkit's IterationLoop. A trainer
brings its networks, the payload it checkpoints and its step; this brings the rest."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from legan.checkpoint import load_checkpoint
from legan.config import ConfigError, TrainConfig
from legan.distributed import DistContext, barrier, broadcast_flag, gather_objects, mean_across_processes
from legan.plots import plot_losses
from legan.samples import save_grid
from legan.validation import build_validator
from runkit.checkpoints import (capture_rng, checkpoint_path, latest_checkpoint, refuse_used_run_dir,
                                require_latest_checkpoint, restore_rng)
from runkit.loop import IterationLoop, LoopHooks, StatsMeter, TrainResult
from runkit.runs import CHECKPOINTS_DIR, PLOT_NAME, SAMPLES_DIR, STATS_NAME, StatsWriter, write_config

# save(path, iteration, rng_states, meters) writes the trainer's checkpoint (called in the main process only)
SaveCheckpoint = Callable[[Path, int, list, list], None]


class LeganRun:
    """One training run's folder and loop scaffolding, for one process of the run."""

    def __init__(self, config: TrainConfig, run_dir: Path, ctx: DistContext, device: torch.device,
                 resume: bool) -> None:
        self.config, self.run_dir, self.ctx, self.device, self.resume = config, run_dir, ctx, device, resume
        self.ckpt_dir = run_dir / CHECKPOINTS_DIR
        self.meter = StatsMeter()
        self.start = 0
        refuse_used_run_dir(run_dir, self.ckpt_dir, resume, ConfigError)

    def open(self) -> None:
        """Create the folder and write the config: only once the options and the data have been
        checked, so that a refused run leaves nothing behind."""
        if self.ctx.is_main:
            (self.run_dir / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
            write_config(self.run_dir, self.config.to_dict())

    def total_iterations(self, per_epoch: int) -> int:
        return self.config.max_iterations or math.ceil(self.config.epochs * per_epoch)

    def load_latest(self, rng: torch.Generator) -> dict:
        """The latest checkpoint's payload; restores this process's RNG and its stats meter (a log
        interval split by the stop) and sets where the loop starts. The caller loads its states."""
        payload = load_checkpoint(require_latest_checkpoint(self.ckpt_dir), map_location="cpu")
        self.start = payload["iteration"]
        restore_rng(payload["rng"][self.ctx.rank], rng)
        self.meter.load(payload["meters"][self.ctx.rank], self.device)
        return payload

    def loop(self, *, per_epoch: int, total: int, generator: nn.Module, samples, rng: torch.Generator,
             save: SaveCheckpoint, should_stop: Optional[Callable[[], bool]],
             on_progress: Optional[Callable[[int, int, dict], None]], desc: str) -> IterationLoop:
        """The IterationLoop with its hooks: `generator` is what samples and validation translate
        with, `rng` the trainer's own generator saved in every checkpoint."""
        config, ctx, device, meter, run_dir = self.config, self.ctx, self.device, self.meter, self.run_dir
        stats_writer = StatsWriter(run_dir / STATS_NAME, resume_at=self.start, key="iteration") if ctx.is_main else None

        def checkpoint(iteration: int) -> Path:
            rng_states = gather_objects(capture_rng(rng), ctx)  # every process's RNG
            meters = gather_objects(meter.state(), ctx)
            path = checkpoint_path(self.ckpt_dir, iteration)
            if ctx.is_main:
                save(path, iteration, rng_states, meters)
            barrier(ctx)
            return path

        def log(iteration: int, done: bool, sec_per_iter: float, validation: dict) -> dict:
            means = mean_across_processes(meter.pop_means(), ctx, device)
            metrics = {"iteration": iteration, "epoch": iteration / per_epoch,
                       "images_seen": iteration * config.batch_size, "sec_per_iter": sec_per_iter,
                       **means, **validation}
            if ctx.is_main:
                stats_writer.write(metrics)
                loop.bar.set_postfix({k.removeprefix("Loss/").replace("/", "_"): f"{v:.3g}"
                                      for k, v in means.items() if k.endswith(("total", "gp", "rec"))})
                if on_progress is not None:
                    on_progress(iteration, total, dict(metrics))
            return metrics

        def sample(iteration: int) -> None:
            if ctx.is_main:
                save_grid(generator, samples, device, run_dir / SAMPLES_DIR / f"iter-{iteration:08d}.png")
                plot_losses(run_dir / STATS_NAME, run_dir / PLOT_NAME)

        validator = build_validator(config.validation_pairs, config.expressions, config.lightings,
                                    config.image_size) if ctx.is_main else None
        hooks = LoopHooks(
            log=log, checkpoint=checkpoint, sample=sample,
            validate=(lambda: validator(generator, device)) if validator is not None else None,
            # decided in the main process, broadcast so that every process stops at the same iteration
            stop_requested=lambda: broadcast_flag(
                bool(should_stop()) if (should_stop is not None and ctx.is_main) else False, ctx, device))
        loop = IterationLoop(hooks, start=self.start, total=total, per_epoch=per_epoch,
                             log_every=config.log_every, sample_every=config.sample_every,
                             checkpoint_every=config.checkpoint_every, validate_every=config.validate_every,
                             progress=ctx.is_main and config.progress, desc=desc)
        return loop

    def result(self, loop: IterationLoop) -> TrainResult:
        loop.close()
        last_ckpt = loop.last_checkpoint
        if last_ckpt is None and self.resume:  # resumed a finished run: nothing new to write
            last_ckpt = latest_checkpoint(self.ckpt_dir)
        return TrainResult(self.run_dir, last_ckpt, loop.last_log)
