"""Process-group setup for DistributedDataParallel under torchrun (or an existing group),
plus the few collectives the trainer needs. Single-process runs use the same API."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from runkit.device import select_device


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device_pref: str = "auto") -> DistContext:
    """Join the process group torchrun describes (WORLD_SIZE > 1), or reuse one that already
    exists (tests spawning processes themselves). nccl on CUDA, gloo otherwise."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_pref != "cpu"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, initialized_here=True)


def teardown_distributed(ctx: DistContext) -> None:
    if ctx.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def resolve_device(pref: str, ctx: DistContext) -> torch.device:
    """This process's device: runkit's choice, on the GPU of its local rank."""
    return select_device(pref, ctx.local_rank)


def mean_across_processes(values: dict[str, float], ctx: DistContext, device: torch.device) -> dict[str, float]:
    if not ctx.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / ctx.world_size for k, v in zip(keys, t.tolist())}


def broadcast_flag(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """Rank 0's decision (e.g. should_stop) for every process."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def gather_objects(obj, ctx: DistContext) -> list:
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


class ResumableSampler(Sampler):
    """Shuffled per epoch from `seed`, resumable mid-epoch, and split so that data-parallel
    training sees exactly what one process would see with the same global batch.

    Global batch k of an epoch is order[k * B : (k + 1) * B] (B = batch_size x num_replicas);
    rank r takes its r-th contiguous slice. With one process this is the plain seeded shuffle.
    Keys are (index, epoch) pairs: `SeededItems` derives each item's augmentation randomness
    from them, so it depends neither on the number of loader workers nor on when they started.
    """

    def __init__(self, dataset, *, num_replicas: int, rank: int, seed: int, batch_size: int) -> None:
        self.n = len(dataset)
        self.num_replicas, self.rank, self.seed = num_replicas, rank, seed
        self.batch_size = batch_size  # per process
        self.epoch = 0
        self.skip_batches = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_position(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch = epoch
        self.skip_batches = skip_batches

    @property
    def batches_per_epoch(self) -> int:
        return self.n // (self.batch_size * self.num_replicas)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        global_batch = self.batch_size * self.num_replicas
        for b in range(self.skip_batches, self.batches_per_epoch):
            start = b * global_batch + self.rank * self.batch_size
            for index in order[start:start + self.batch_size]:
                yield index, self.epoch

    def __len__(self) -> int:
        return max(self.batches_per_epoch - self.skip_batches, 0) * self.batch_size
