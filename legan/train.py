"""Training LEGAN (or the StarGAN baseline): single process or DistributedDataParallel.

    python -m legan.train --manifest data/manifest.csv --expressions neutral,smile,... \
        --lightings 00,01,... --q-checkpoint q.pt --identity dlib --arch legan
    torchrun --nproc_per_node 4 -m legan.train ...        # several GPUs / machines
    python -m legan.train --resume runs/legan/00003-legan  # continue exactly

One iteration is one D step on a fresh batch; every n_critic-th iteration also takes a G step
on that batch (StarGAN's schedule; the paper's "5 D steps per G step"). Only rank 0 writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from legan import build
from legan.checkpoint import save_checkpoint
from legan.config import TrainConfig, validate
from legan.distributed import DistContext, resolve_device, setup_distributed, teardown_distributed
from legan.loss import LeganLoss
from legan.samples import build_sample_set
from legan.train_loop import LeganRun
from runkit.loop import TrainResult


def train(config: TrainConfig, *, run_dir, resume: bool = False,
          on_progress: Optional[Callable[[int, int, dict], None]] = None,
          should_stop: Optional[Callable[[], bool]] = None,
          dataset=None, identity_net=None, quality_net=None) -> TrainResult:
    """Train until config's length; see the module docstring. `dataset`, `identity_net` and
    `quality_net` may be injected (tests, notebooks); otherwise they come from the config."""
    ctx = setup_distributed(config.device)
    try:
        return _train(config, Path(run_dir), ctx, resume, on_progress, should_stop,
                      dataset, identity_net, quality_net)
    finally:
        teardown_distributed(ctx)


def _train(config, run_dir, ctx: DistContext, resume, on_progress, should_stop,
           dataset, identity_net, quality_net) -> TrainResult:
    validate(config, world_size=ctx.world_size, check_manifest=dataset is None,
             check_q_checkpoint=quality_net is None)
    device = resolve_device(config.device, ctx)
    if device.type == "cuda" and not torch.are_deterministic_algorithms_enabled():
        torch.backends.cudnn.benchmark = True  # fixed shapes: autotune once, reuse every step
    n_e, n_l = len(config.expressions), len(config.lightings)
    run = LeganRun(config, run_dir, ctx, device, resume)
    dataset = dataset if dataset is not None else build.build_dataset(config)
    loader, sampler = build.build_loader(dataset, config, ctx, device)
    run.open()
    per_epoch = sampler.batches_per_epoch
    total = run.total_iterations(per_epoch)
    G, D = build.build_networks(config, device)
    opt_G, opt_D = build.build_optimizers(config, G, D)
    autocast_dtype, scalers = build.build_amp(config, device)
    T, Q = build.build_auxiliary(config, device, identity_net, quality_net)
    # The same in every process: each draws the global batch's targets and keeps its slice.
    target_rng = torch.Generator().manual_seed(config.seed * 1_000_003)

    samples = None
    if ctx.is_main:  # before any RNG restore: reading items may draw random augmentations
        samples = build_sample_set(dataset, config.sample_count, config.expressions, config.lightings,
                                   config.sample_targets)
    if resume:
        payload = run.load_latest(target_rng)
        G.load_state_dict(payload["G"])
        D.load_state_dict(payload["D"])
        opt_G.load_state_dict(payload["opt_G"])
        opt_D.load_state_dict(payload["opt_D"])
        for name, state in payload.get("scalers", {}).items():
            if name in scalers:
                scalers[name].load_state_dict(state)

    G_plain, D_plain = G, D
    if ctx.distributed:
        ids = [device.index] if device.type == "cuda" else None
        G = DDP(G, device_ids=ids)
        D = DDP(D, device_ids=ids)
    G = build.compile_generator(G, config)
    loss = LeganLoss(G, D, n_expressions=n_e, config=config.loss, identity_net=T, quality_net=Q,
                     autocast_dtype=autocast_dtype, scalers=scalers)

    def save(path: Path, iteration: int, rng_states: list, meters: list) -> None:
        save_checkpoint(path, G=G_plain, D=D_plain, opt_G=opt_G, opt_D=opt_D, scalers=scalers,
                        iteration=iteration, config=config.to_dict(), rng_states=rng_states,
                        extra={"meters": meters}, keep=config.keep_checkpoints)

    loop = run.loop(per_epoch=per_epoch, total=total, generator=G_plain, samples=samples, rng=target_rng,
                    save=save, should_stop=should_stop, on_progress=on_progress, desc="legan")
    meter = run.meter
    G.train()
    D.train()
    for epoch, offset in loop.positions():
        sampler.set_position(epoch, offset)  # items' randomness follows (seed, epoch, index)
        for raw in loader:
            batch = build.prepare_batch(raw, device, target_rng, n_e, n_l, rank=ctx.rank,
                                        world_size=ctx.world_size,
                                        channels_last=build.uses_channels_last(config, device))
            opt_D.zero_grad(set_to_none=True)
            meter.add(loss.accumulate_gradients("D", batch))
            build.optimizer_step(opt_D, scalers.get("D"))
            if (loop.iteration + 1) % config.n_critic == 0:
                opt_G.zero_grad(set_to_none=True)
                meter.add(loss.accumulate_gradients("G", batch))
                build.optimizer_step(opt_G, scalers.get("G"))
            if loop.end_iteration():
                break
    return run.result(loop)


if __name__ == "__main__":
    # `python -m legan.train` (and torchrun -m legan.train) stays the command: hand over to the
    # CLI module by name, without an import, so the library never depends on its CLI.
    import runpy

    runpy.run_module("legan.train_cli", run_name="__main__", alter_sys=True)
