"""Building the pieces of a training run from a TrainConfig: data, networks, optimizers, AMP,
and the frozen Q / T networks (loaded from the config unless the caller injects them)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from legan.arch import build_discriminator, build_generator
from legan.config import ConfigError, TrainConfig
from legan.data.loader import make_loader
from legan.distributed import DistContext, ResumableSampler
from legan.frozen_nets import load_identity_network, load_quality_network
from legan.labels import sample_targets

MSG_TOO_FEW_IMAGES = ("the dataset has {n} images: fewer than one batch of {per_rank} per process "
                      "({world} processes); lower --batch-size or add images")


def build_dataset(config: TrainConfig):
    from legan.data.dataset import LeganDataset  # lazy: the data package is optional for the core

    augment = None
    if config.augment and (config.recolor_checkpoints or config.white_balance):
        from legan.augment.random_augment import AugmentConfig, RandomAugment

        recolorizer = None
        if config.recolor_checkpoints:
            from legan.augment.recolor import Recolorizer

            recolorizer = Recolorizer.from_checkpoints(config.recolor_checkpoints)
        augment = RandomAugment(AugmentConfig(p_white_balance=1.0 if config.white_balance else 0.0),
                                recolorizer=recolorizer)
    return LeganDataset(config.manifest, list(config.expressions), list(config.lightings),
                        image_size=config.image_size, augment=augment, cache=config.cache_images)


def build_loader(dataset, config: TrainConfig, ctx: DistContext, device: torch.device):
    per_rank = config.batch_size // ctx.world_size
    sampler = ResumableSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank,
                               seed=config.seed, batch_size=per_rank)
    if sampler.batches_per_epoch == 0:
        raise ConfigError(MSG_TOO_FEW_IMAGES.format(n=len(dataset), per_rank=per_rank, world=ctx.world_size))
    loader = make_loader(dataset, sampler, batch_size=per_rank, num_workers=config.num_workers, seed=config.seed,
                         rank=ctx.rank, pin_memory=device.type == "cuda", prefetch_factor=config.prefetch_factor)
    return loader, sampler


def uses_channels_last(config: TrainConfig, device: torch.device) -> bool:
    return bool(getattr(config, "channels_last", False)) and device.type == "cuda"


def build_networks(config: TrainConfig, device: torch.device) -> tuple[nn.Module, nn.Module]:
    n_e, n_l = len(config.expressions), len(config.lightings)
    torch.manual_seed(config.seed)  # identical initial weights in every process
    G = build_generator(config.model, n_e, n_l).to(device)
    D = build_discriminator(config.model, config.image_size, n_e + n_l).to(device)
    if uses_channels_last(config, device):
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    return G, D


def build_optimizers(config: TrainConfig, G: nn.Module, D: nn.Module):
    betas = (config.beta1, config.beta2)

    def adam(net: nn.Module, lr: float) -> torch.optim.Adam:
        params = list(net.parameters())
        # One fused kernel for the whole update instead of a few per parameter tensor (CUDA only).
        fused = bool(params) and all(p.is_cuda and p.is_floating_point() for p in params)
        return torch.optim.Adam(params, lr=lr, betas=betas, **({"fused": True} if fused else {}))

    return adam(G, config.lr_g), adam(D, config.lr_d)


def compile_generator(G: nn.Module, config: TrainConfig, backend: str = "inductor") -> nn.Module:
    """torch.compile(G) when config.compile is set. Only G: D's gradient penalty needs a double
    backward, which compiled graphs do not support. Off by default: bench/bench_legan.py
    --compile measures whether it pays on a given device."""
    return torch.compile(G, backend=backend) if config.compile else G


def build_amp(config: TrainConfig, device: torch.device) -> tuple[Optional[torch.dtype], dict]:
    """(autocast dtype or None, {"D": scaler, "G": scaler}). bf16 needs no loss scaling."""
    if not (config.amp and device.type == "cuda"):
        return None, {}
    if config.amp_dtype == "bf16" and torch.cuda.is_bf16_supported():
        return torch.bfloat16, {}
    return torch.float16, {"D": torch.amp.GradScaler("cuda"), "G": torch.amp.GradScaler("cuda")}


def optimizer_step(opt: torch.optim.Optimizer, scaler) -> None:
    """One update, through the phase's grad scaler (build_amp) when it has one."""
    if scaler is None:
        opt.step()
    else:
        scaler.step(opt)
        scaler.update()


def build_auxiliary(config: TrainConfig, device: torch.device, identity_net=None, quality_net=None):
    """The frozen (T, Q) actually used: injected modules win; a zero loss weight means None."""
    if config.loss.lambda_id > 0 and identity_net is None:
        identity_net = load_identity_network(config.identity, config.identity_weights)
    if config.loss.lambda_qual > 0 and quality_net is None:
        quality_net = load_quality_network(config.q_checkpoint)
    T = identity_net.to(device) if config.loss.lambda_id > 0 else None
    Q = quality_net.to(device) if config.loss.lambda_qual > 0 else None
    return T, Q


def prepare_batch(raw: dict, device: torch.device, rng: torch.Generator, n_expressions: int,
                  n_lightings: int, *, rank: int = 0, world_size: int = 1, channels_last: bool = False) -> dict:
    """A loader batch on the device plus this step's random targets and GP weights (from `rng`).

    Under DDP every process holds the same `rng`, draws the targets of the whole global batch
    and keeps its own slice, so N processes train exactly as one process on the global batch.
    """
    image = raw["image"].to(device, non_blocking=True).float()  # (B, 3, H, W)
    if channels_last:
        image = image.contiguous(memory_format=torch.channels_last)
    b = image.shape[0]
    mask = raw.get("mask")
    mask = (mask.to(device, non_blocking=True).float() if mask is not None
            else torch.ones(b, 1, *image.shape[2:], device=device))  # (B, 1, H, W)
    target_e, target_l = sample_targets(b * world_size, n_expressions, n_lightings, rng)
    alpha = torch.rand(b * world_size, generator=rng)
    mine = slice(rank * b, (rank + 1) * b)
    target_e, target_l, alpha = target_e[mine], target_l[mine], alpha[mine]
    return {"image": image, "mask": mask,
            "expression": torch.as_tensor(raw["expression"]).long().to(device, non_blocking=True),
            "lighting": torch.as_tensor(raw["lighting"]).long().to(device, non_blocking=True),
            "target_expression": target_e.to(device, non_blocking=True),
            "target_lighting": target_l.to(device, non_blocking=True),
            "gp_alpha": alpha.to(device, non_blocking=True)}
