"""Scaffolding of a training loop: how it stops, what it returns, how it averages its stats, and
what it does between model steps (log, validate, sample, checkpoint, stop)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch
from tqdm import tqdm


class TrainingStopped(Exception):
    """should_stop() returned True; the checkpoint of `step` was written first (resume=True
    continues). The one class every trainer raises, so a job runner catches one thing."""

    def __init__(self, step: int, checkpoint_path: Optional[Path]) -> None:
        super().__init__(f"training stopped at step {step}; checkpoint {checkpoint_path}")
        self.step, self.checkpoint_path = step, checkpoint_path

    # legan's loops count "iterations": the same number under its own name.
    @property
    def iteration(self) -> int:
        return self.step

    @property
    def checkpoint(self) -> Optional[Path]:
        return self.checkpoint_path


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint_path: Optional[Path]
    metrics: dict


class StatsMeter:
    """Running sums of the loss stats between two log lines (kept on the device: no syncs)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0) + v
            self.counts[k] = self.counts.get(k, 0) + 1

    def state(self) -> dict:
        return {"sums": {k: float(v) for k, v in self.sums.items()}, "counts": dict(self.counts)}

    def load(self, state: dict, device: torch.device) -> None:
        self.sums = {k: torch.tensor(v, device=device) for k, v in state["sums"].items()}
        self.counts = dict(state["counts"])

    def pop_means(self) -> dict[str, float]:
        means = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means


@dataclass
class LoopHooks:
    """What a trainer does at the loop's intervals; the loop decides when.

    log(iteration, done, sec_per_iteration, validation) writes one stats line and returns it
    (validation: the dict `validate` returned when it was due, else {}; sec_per_iteration: None
    on a line due only for its validation, which carries no training stats); sample(iteration)
    writes a sample grid; stop_requested() says whether to stop now (every process must get the
    same answer); checkpoint(iteration) writes a checkpoint and returns its path.
    """

    log: Callable[[int, bool, Optional[float], dict], Optional[dict]]
    checkpoint: Callable[[int], Optional[Path]]
    sample: Callable[[int], None] = lambda iteration: None
    validate: Optional[Callable[[], dict]] = None
    stop_requested: Callable[[], bool] = lambda: False


class IterationLoop:
    """The scaffolding of a loop counted in iterations (steps), shared by every trainer: the
    (epoch, offset) a resumable sampler starts from, the progress bar, and after each iteration
    the log line (with its timing and, when due, a validation), the sample grid, the checkpoint,
    and a requested stop, which checkpoints and raises TrainingStopped. The model step itself
    stays in the trainer.

    Two choices differ between trainers:
    - validation: by default it runs on a log line once `validate_every` iterations have passed
      since the last one; with validate_apart it runs every `validate_every` iterations on its
      own, and a line is written when a log or a validation is due.
    - the stop: by default it is asked after each iteration; with stop_before_step the trainer
      calls begin_iteration() before each step, which asks then, so that a run asked to stop
      before its first step stops with none taken, and a run that has taken its last step ends.
    """

    def __init__(self, hooks: LoopHooks, *, start: int, total: int, per_epoch: int, log_every: int,
                 sample_every: int, checkpoint_every: int, validate_every: int = 0,
                 validate_apart: bool = False, stop_before_step: bool = False,
                 progress: bool = False, desc: str = "train") -> None:
        self.hooks = hooks
        self.iteration, self.total, self.per_epoch = start, total, max(per_epoch, 1)
        self.log_every, self.sample_every, self.checkpoint_every = log_every, sample_every, checkpoint_every
        self.validate_every, self.last_validation = validate_every, start
        self.validate_apart, self.stop_before_step = validate_apart, stop_before_step
        self.last_checkpoint: Optional[Path] = None
        self.last_log: dict = {}
        self.bar = tqdm(total=total, initial=start, disable=not progress, desc=desc, dynamic_ncols=True)
        self._tick, self._tick_iteration = time.perf_counter(), start

    def positions(self) -> Iterator[tuple[int, int]]:
        """(epoch, batch offset) to (re)start the data from, until the last iteration."""
        while self.iteration < self.total:
            yield divmod(self.iteration, self.per_epoch)

    def _due(self, every: int, done: bool) -> bool:
        return done or (every > 0 and self.iteration % every == 0)

    def _validation_due(self, log_due: bool, done: bool) -> bool:
        if self.hooks.validate is None:
            return False
        if self.validate_apart:
            return self._due(self.validate_every, done)
        return log_due and (done or self.iteration - self.last_validation >= self.validate_every)

    def begin_iteration(self) -> None:
        """Before a model step (with stop_before_step): stop here if a stop is requested."""
        if self.stop_before_step and self.hooks.stop_requested():
            self._stop()

    def end_iteration(self) -> bool:
        """Count one iteration and do what is due; True when the run is done (break)."""
        self.iteration += 1
        self.bar.update(1)
        done = self.iteration >= self.total
        log_due = self._due(self.log_every, done)
        validation_due = self._validation_due(log_due, done)
        if log_due or validation_due:
            sec_per_iteration = None
            if log_due:
                now = time.perf_counter()
                sec_per_iteration = (now - self._tick) / max(1, self.iteration - self._tick_iteration)
                self._tick, self._tick_iteration = now, self.iteration
            validation = {}
            if validation_due:
                validation = self.hooks.validate()
                self.last_validation = self.iteration
            self.last_log = self.hooks.log(self.iteration, done, sec_per_iteration, validation) or {}
        if self._due(self.sample_every, done):
            self.hooks.sample(self.iteration)
        stop = not self.stop_before_step and bool(self.hooks.stop_requested())
        if self._due(self.checkpoint_every, done) or stop:
            self.last_checkpoint = self.hooks.checkpoint(self.iteration)
        if stop:
            self._stop(checkpointed=True)
        return done

    def _stop(self, checkpointed: bool = False) -> None:
        if not checkpointed:
            self.last_checkpoint = self.hooks.checkpoint(self.iteration)
        self.close()
        raise TrainingStopped(self.iteration, self.last_checkpoint)

    def close(self) -> None:
        self.bar.close()
