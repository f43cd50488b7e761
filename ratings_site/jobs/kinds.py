"""The job kinds a process knows: each app's tasks module declares its kinds with
`ratings_site.jobs.runner.job_task`; the web process, the worker and the sweep look them up
here by `Job.kind`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from django.utils.module_loading import autodiscover_modules

from .models import Job


@dataclass(frozen=True)
class JobKind:
    """What a kind of job declares; everything else is the runner's."""

    kind: str
    work: Callable[..., dict]  # (JobContext) -> result
    task: object = None
    stopped: tuple[type[BaseException], ...] | Callable[[], tuple] = ()
    # Training kinds: a run folder, progress as (step, total, stats), plots published live.
    run_folder: bool = False
    plot: Callable[[Path], list[Path]] | None = None
    cancelled_message: str = "cancelled"
    # For a job chained after another: (waiting job, parent job) -> params to add; raises to fail it.
    release: Callable[[Job, Job], dict] | None = None

    def stopped_types(self) -> tuple[type[BaseException], ...]:
        return tuple(self.stopped() if callable(self.stopped) else self.stopped)


_KINDS: dict[str, JobKind] = {}
_loaded = [False]


def job_kind_register(kind: JobKind) -> None:
    _KINDS[kind.kind] = kind


def tasks_modules_load() -> None:
    """Import every app's tasks module once, so that a web process or the sweep knows the
    kinds (and Celery tasks) a worker knows."""
    if not _loaded[0]:
        _loaded[0] = True
        autodiscover_modules("tasks")


def job_kind(kind: str) -> JobKind | None:
    if kind not in _KINDS:
        tasks_modules_load()
    return _KINDS.get(kind)


def job_kinds() -> dict[str, JobKind]:
    tasks_modules_load()
    return dict(_KINDS)
