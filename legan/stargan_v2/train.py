"""Training the StarGAN v2 baseline with the project's data pipeline, run folder and checkpoints.

    python -m legan.train --arch stargan-v2 --manifest M --expressions a,b --lightings x,y \
        --no-quality-loss --no-identity-loss [--stargan-v2-option lambda_ds=2 ...]

One iteration is the authors' full step on one batch: D (latent-guided), D (reference-guided),
G + mapping + style encoder (latent-guided), G alone (reference-guided), then the moving average
of G, mapping and style encoder (beta 0.999), then the diversity weight decays linearly to 0.
Adam (0, 0.99), weight decay 1e-4, lr 1e-4 (TrainConfig.lr_g / lr_d) and 1e-6 for the mapping.
Target domains are drawn uniformly among the (expression, lighting) combinations present in the
data; the two reference images are random images of that domain. TrainConfig's n_critic,
beta1 / beta2, loss weights, AMP and Q / T options do not apply to this architecture.

The checkpoint's "G" is the EMA translator (what `legan.checkpoint.load_stargan_v2` and synthesis read), "D" the
discriminator; the training copies and the mapping / style encoder optimizers are extras.
Distributed runs average gradients over processes before every optimizer step (as DDP would).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist
from torch import nn

from legan import build
from legan.checkpoint import save_checkpoint
from legan.config import ConfigError, TrainConfig, validate
from legan.distributed import DistContext, resolve_device, setup_distributed, teardown_distributed
from legan.samples import build_sample_set
from legan.stargan_v2.loss import StarGANv2Loss
from legan.stargan_v2.networks import Discriminator, StarGANv2Options, check_image_size, domain_index, he_init
from legan.stargan_v2.references import ReferenceSampler
from legan.stargan_v2.translator import StarGANv2Translator
from legan.train_loop import LeganRun
from runkit.loop import TrainResult

MSG_NOT_V2 = "legan.stargan_v2.train trains arch 'stargan-v2', the config says {arch!r}"


def validate_v2(config: TrainConfig, *, world_size: int = 1, check_manifest: bool = True) -> StarGANv2Options:
    if config.model.arch != "stargan-v2":
        raise ConfigError(MSG_NOT_V2.format(arch=config.model.arch))
    # Q and T are not part of StarGAN v2: check everything else the shared way.
    validate(config, world_size=world_size, check_manifest=check_manifest, check_q_checkpoint=False)
    try:
        check_image_size(config.image_size)
        return StarGANv2Options.from_dict(config.stargan_v2)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def build_v2_networks(config: TrainConfig, opts: StarGANv2Options, device: torch.device):
    """(training translator, its EMA copy, discriminator); identical weights in every process."""
    torch.manual_seed(config.seed)
    nets = StarGANv2Translator(config.image_size, config.expressions, config.lightings, opts).to(device)
    D = Discriminator(config.image_size, len(config.expressions) * len(config.lightings), opts).to(device)
    D.apply(he_init)
    ema = copy.deepcopy(nets).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return nets, ema, D


def build_v2_optimizers(config: TrainConfig, opts: StarGANv2Options, nets: StarGANv2Translator,
                        D: nn.Module) -> dict[str, torch.optim.Optimizer]:
    def adam(module: nn.Module, lr: float) -> torch.optim.Adam:
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(opts.beta1, opts.beta2),
                                weight_decay=opts.weight_decay)

    return {"generator": adam(nets.generator, config.lr_g), "mapping": adam(nets.mapping, opts.lr_mapping),
            "style_encoder": adam(nets.style_encoder, config.lr_g), "discriminator": adam(D, config.lr_d)}


@torch.no_grad()
def update_ema(model: nn.Module, ema: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model, parameter by parameter."""
    for p, p_ema in zip(model.parameters(), ema.parameters()):
        p_ema.copy_(torch.lerp(p, p_ema, beta))


def diversity_weight(opts: StarGANv2Options, iteration: int, total: int) -> float:
    """lambda_ds at a 0-based iteration: linear from its initial value to 0 over ds_iter iterations."""
    ds_iter = opts.ds_iter or total
    return max(0.0, opts.lambda_ds * (1.0 - iteration / ds_iter))


def average_gradients(module: nn.Module, ctx: DistContext) -> None:
    if not ctx.distributed:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= ctx.world_size


def prepare_v2_batch(raw: dict, device: torch.device, rng: torch.Generator, refs: ReferenceSampler,
                     n_lightings: int, opts: StarGANv2Options, lambda_ds: float) -> dict:
    """A loader batch plus this step's target domains, references and latent codes (from `rng`)."""
    image = raw["image"].to(device).float()  # (B, 3, H, W)
    b = image.shape[0]
    target, ref1, ref2 = refs.sample(b, rng)
    z = torch.randn(b, opts.latent_dim, generator=rng)
    z2 = torch.randn(b, opts.latent_dim, generator=rng)
    domain = domain_index(torch.as_tensor(raw["expression"]), torch.as_tensor(raw["lighting"]), n_lightings)
    return {"image": image, "domain": domain.to(device), "target_domain": target.to(device),
            "reference": refs.images(ref1).to(device), "reference2": refs.images(ref2).to(device),
            "z": z.to(device), "z2": z2.to(device), "lambda_ds": lambda_ds}


def train(config: TrainConfig, run_dir, resume: bool = False,
          should_stop: Optional[Callable[[], bool]] = None,
          on_progress: Optional[Callable[[int, int, dict], None]] = None, dataset=None) -> TrainResult:
    """Train StarGAN v2 until the config's length (see the module docstring)."""
    ctx = setup_distributed(config.device)
    try:
        return _train(config, Path(run_dir), ctx, resume, should_stop, on_progress, dataset)
    finally:
        teardown_distributed(ctx)


def _train(config, run_dir, ctx, resume, should_stop, on_progress, dataset) -> TrainResult:
    opts = validate_v2(config, world_size=ctx.world_size, check_manifest=dataset is None)
    device = resolve_device(config.device, ctx)
    n_l = len(config.lightings)
    run = LeganRun(config, run_dir, ctx, device, resume)
    dataset = dataset if dataset is not None else build.build_dataset(config)
    loader, sampler = build.build_loader(dataset, config, ctx, device)
    refs = ReferenceSampler(dataset, n_l)
    run.open()
    per_epoch = sampler.batches_per_epoch
    total = run.total_iterations(per_epoch)
    nets, ema, D = build_v2_networks(config, opts, device)
    optims = build_v2_optimizers(config, opts, nets, D)
    rng = torch.Generator().manual_seed(config.seed * 1_000_003 + ctx.rank)
    samples = (build_sample_set(dataset, config.sample_count, config.expressions, config.lightings,
                                config.sample_targets) if ctx.is_main else None)
    if resume:
        payload = run.load_latest(rng)
        ema.load_state_dict(payload["G"])
        D.load_state_dict(payload["D"])
        nets.load_state_dict(payload["nets"])
        for name, opt in optims.items():
            opt.load_state_dict(payload["optimizers"][name])
    loss = StarGANv2Loss(nets, D, opts)
    meter = run.meter

    def save(path: Path, iteration: int, rng_states: list, meters: list) -> None:
        save_checkpoint(path, G=ema, D=D, opt_G=optims["generator"], opt_D=optims["discriminator"],
                        scalers={}, iteration=iteration, config=config.to_dict(), rng_states=rng_states,
                        extra={"meters": meters, "nets": nets.state_dict(),
                               "optimizers": {k: o.state_dict() for k, o in optims.items()}},
                        keep=config.keep_checkpoints)

    def step(phase: str, batch: dict, stepped: tuple[str, ...]) -> None:
        for opt in optims.values():
            opt.zero_grad(set_to_none=True)
        meter.add(loss.accumulate_gradients(phase, batch))
        for name in stepped:
            module = D if name == "discriminator" else getattr(nets, name)
            average_gradients(module, ctx)
            optims[name].step()

    # samples and validation use the EMA generator, as evaluation does
    loop = run.loop(per_epoch=per_epoch, total=total, generator=ema, samples=samples, rng=rng,
                    save=save, should_stop=should_stop, on_progress=on_progress, desc="stargan-v2")
    nets.train()
    D.train()
    for epoch, offset in loop.positions():
        sampler.set_position(epoch, offset)
        loader.generator.manual_seed(config.seed + epoch)
        for raw in loader:
            lambda_ds = diversity_weight(opts, loop.iteration, total)
            batch = prepare_v2_batch(raw, device, rng, refs, n_l, opts, lambda_ds)
            step("D_latent", batch, ("discriminator",))
            step("D_ref", batch, ("discriminator",))
            step("G_latent", batch, ("generator", "mapping", "style_encoder"))
            step("G_ref", batch, ("generator",))
            update_ema(nets, ema, opts.ema_beta)
            meter.add({"Schedule/lambda_ds": torch.tensor(lambda_ds)})
            if loop.end_iteration():
                break
    return run.result(loop)


def dry_run(config: TrainConfig) -> dict:
    """Validate and build data and networks, one forward pass, no training step."""
    from legan.networks import count_parameters

    opts = validate_v2(config)
    device = resolve_device(config.device, DistContext())
    dataset = build.build_dataset(config)
    _, sampler = build.build_loader(dataset, config, DistContext(), device)
    ReferenceSampler(dataset, len(config.lightings))
    nets, ema, D = build_v2_networks(config, opts, device)
    x = dataset[0]["image"][None].to(device)
    zero = torch.zeros(1, dtype=torch.long, device=device)
    with torch.no_grad():
        out = ema(x, zero, zero).image
        d = D(out, zero)
    return {"images": len(dataset), "batches_per_epoch": sampler.batches_per_epoch,
            "G_parameters": count_parameters(nets.generator), "mapping_parameters": count_parameters(nets.mapping),
            "style_encoder_parameters": count_parameters(nets.style_encoder), "D_parameters": count_parameters(D),
            "domains": len(config.expressions) * len(config.lightings), "output_shape": list(out.shape),
            "D_shape": list(d.shape), "device": str(device)}
