"""Command line for `python -m legan.train` (options -> TrainConfig, run folder, dry run); legan.train
hands `python -m` over to this module, and this module imports the library, never the other way."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from legan.arch import ARCHITECTURES, ModelConfig
from legan.config import AMP_DTYPES, IDENTITY_NETWORKS, ConfigError, TrainConfig, validate
from legan.frozen_nets import AuxiliaryNetworkError
from legan.labels import class_names
from legan.loss import LossConfig
from runkit.runs import next_run_dir, read_config

MSG_NEED_CLASSES = "--manifest, --expressions and --lightings are required unless --resume is given"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m legan.train", description=__doc__)
    p.add_argument("--manifest", help="CSV: image_path, subject, expression, lighting[, mask_path]")
    p.add_argument("--expressions", type=class_names, help="comma-separated expression class names")
    p.add_argument("--lightings", type=class_names, help="comma-separated lighting class names")
    p.add_argument("--arch", choices=ARCHITECTURES, default="legan")
    p.add_argument("--no-augment", action="store_true",
                   help="no augmentation (default: each input as is, recoloured or white-balanced at random)")
    p.add_argument("--recolor-checkpoint", action="append", default=[], metavar="PATH",
                   help="a trained colouriser (legan.augment.colorize_train); repeat for each colour style")
    p.add_argument("--no-white-balance", action="store_true", help="no white-balance edits in the augmentation")
    p.add_argument("--q-checkpoint", help="trained quality model Q (quality.checkpoint format)")
    p.add_argument("--no-quality-loss", action="store_true", help="train without L_qual (no Q needed)")
    p.add_argument("--identity", choices=IDENTITY_NETWORKS, default="dlib", help="identity network T")
    p.add_argument("--identity-weights", help="weights file for T (default: the network's own default)")
    p.add_argument("--no-identity-loss", action="store_true", help="train without L_id (no T needed)")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=10,
                   help="GLOBAL batch, split evenly over the processes (the paper: 10 on one GPU; 10 x N keeps 10 per GPU)")
    p.add_argument("--epochs", type=float, default=None, help="default 100")
    p.add_argument("--max-iterations", type=int, default=None, help="D iterations; overrides --epochs")
    p.add_argument("--n-critic", type=int, default=5)
    p.add_argument("--lr-g", type=float, default=1e-4)
    p.add_argument("--lr-d", type=float, default=1e-4)
    defaults = LossConfig()
    for name in ("gp", "cls", "rec", "id", "qual", "tv"):
        p.add_argument(f"--lambda-{name}", type=float, default=getattr(defaults, f"lambda_{name}"))
    p.add_argument("--target-quality", type=float, default=defaults.target_quality, help="q in eq. 6")
    p.add_argument("--g-channels", type=int, default=64)
    p.add_argument("--g-downsamples", type=int, default=2)
    p.add_argument("--g-res-blocks", type=int, default=None)
    p.add_argument("--d-channels", type=int, default=64)
    p.add_argument("--d-layers", type=int, default=None)
    p.add_argument("--stargan-v2-option", action="append", default=[], metavar="KEY=VALUE",
                   help="--arch stargan-v2: override an option of legan.stargan_v2.StarGANv2Options")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", action="store_true", help="full fp32 on CUDA")
    p.add_argument("--amp-dtype", choices=AMP_DTYPES, default="bf16")
    p.add_argument("--num-workers", type=int, default=2, help="persistent loader workers per process")
    p.add_argument("--no-cache-images", action="store_true",
                   help="decode images on every read (default: once per run, kept in shared memory)")
    p.add_argument("--compile", action="store_true", help="torch.compile the generator (measure first: bench/bench_legan.py --compile)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--sample-every", type=int, default=1000)
    p.add_argument("--checkpoint-every", type=int, default=5000)
    p.add_argument("--keep-checkpoints", type=int, default=3)
    p.add_argument("--validation-pairs", help="pairs_val.csv of an evaluation set: held-out pairs scored while training")
    p.add_argument("--validate-every", type=int, default=500, help="D iterations between validation passes")
    p.add_argument("--outdir", default="runs/legan", help="parent folder of the numbered run folders")
    p.add_argument("--desc", default=None, help="run folder suffix (default: the architecture)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its newest checkpoint")
    p.add_argument("--dry-run", action="store_true", help="validate options and build everything, then exit")
    p.add_argument("--no-progress", action="store_true")
    return p


def _v2_options(pairs: list[str]) -> dict:
    """["lambda_ds=2", "ds_iter=none"] -> {"lambda_ds": 2, "ds_iter": None} (numbers parsed)."""
    import ast

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--stargan-v2-option expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = None if value.lower() == "none" else ast.literal_eval(value)
    return out


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    if args.resume:
        config = TrainConfig.from_dict(read_config(Path(args.resume)))
        if args.max_iterations is not None:
            config.max_iterations = args.max_iterations
        if args.epochs is not None:
            config.epochs = args.epochs
        return config
    if not (args.manifest and args.expressions and args.lightings):
        raise ConfigError(MSG_NEED_CLASSES)
    loss = LossConfig(**{f"lambda_{n}": getattr(args, f"lambda_{n}") for n in ("gp", "cls", "rec", "id", "qual", "tv")},
                      target_quality=args.target_quality)
    if args.no_quality_loss:
        loss.lambda_qual = 0.0
    if args.no_identity_loss:
        loss.lambda_id = 0.0
    model = ModelConfig(arch=args.arch, g_channels=args.g_channels, g_downsamples=args.g_downsamples,
                        g_res_blocks=args.g_res_blocks, d_channels=args.d_channels, d_layers=args.d_layers)
    return TrainConfig(
        manifest=str(Path(args.manifest).resolve()), expressions=args.expressions, lightings=args.lightings,
        image_size=args.image_size, model=model, loss=loss, augment=not args.no_augment,
        recolor_checkpoints=[str(Path(c).resolve()) for c in args.recolor_checkpoint],
        white_balance=not args.no_white_balance,
        q_checkpoint=str(Path(args.q_checkpoint).resolve()) if args.q_checkpoint else None,
        identity=args.identity, identity_weights=args.identity_weights, batch_size=args.batch_size,
        lr_g=args.lr_g, lr_d=args.lr_d, n_critic=args.n_critic,
        epochs=args.epochs if args.epochs is not None else 100.0, max_iterations=args.max_iterations,
        seed=args.seed, device=args.device, amp=not args.no_amp, amp_dtype=args.amp_dtype,
        num_workers=args.num_workers, cache_images=not args.no_cache_images, compile=args.compile,
        log_every=args.log_every, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints,
        progress=not args.no_progress,
        validation_pairs=str(Path(args.validation_pairs).resolve()) if args.validation_pairs else None,
        validate_every=args.validate_every,
        stargan_v2=_v2_options(args.stargan_v2_option) or None)


def dry_run(config: TrainConfig) -> dict:
    """Validate every option and build data, networks and Q/T, without a training step."""
    import torch

    if config.model.arch == "stargan-v2":
        from legan.stargan_v2.train import dry_run as dry_run_v2

        return dry_run_v2(config)
    from legan import build
    from legan.distributed import DistContext, resolve_device
    from legan.networks import count_parameters

    validate(config)
    ctx = DistContext()
    device = resolve_device(config.device, ctx)
    dataset = build.build_dataset(config)
    _, sampler = build.build_loader(dataset, config, ctx, device)
    G, D = build.build_networks(config, device)
    T, Q = build.build_auxiliary(config, device)
    item = dataset[0]
    with torch.no_grad():
        x = item["image"][None].to(device)
        out = G(x, torch.zeros(1, dtype=torch.long, device=device), torch.zeros(1, dtype=torch.long, device=device))
        src, cls = D(out.image)
    return {"images": len(dataset), "batches_per_epoch": sampler.batches_per_epoch,
            "G_parameters": count_parameters(G), "D_parameters": count_parameters(D),
            "output_shape": list(out.image.shape), "D_src_shape": list(src.shape), "D_cls_shape": list(cls.shape),
            "identity_network": type(T).__name__ if T is not None else None,
            "quality_network": type(Q).__name__ if Q is not None else None, "device": str(device)}


def _shared_run_dir(args, config) -> Path:
    """Rank 0 picks the next numbered folder; every process uses the same one."""
    import torch.distributed as dist

    path = Path(args.resume) if args.resume else next_run_dir(args.outdir, args.desc or config.model.arch)
    if dist.is_available() and dist.is_initialized():
        box = [str(path)]
        dist.broadcast_object_list(box, src=0)
        path = Path(box[0])
    return path


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from legan.distributed import setup_distributed, teardown_distributed
    from legan.train import train
    from runkit.loop import TrainingStopped

    try:
        config = config_from_args(args)
        if args.dry_run:
            print(json.dumps({"config": config.to_dict(), "checks": dry_run(config)}, indent=2))
            return 0
        ctx = setup_distributed(config.device)
        try:
            run_dir = _shared_run_dir(args, config)
            if config.model.arch == "stargan-v2":
                from legan.stargan_v2.train import train as train_v2

                result = train_v2(config, run_dir, resume=bool(args.resume))
            else:
                result = train(config, run_dir=run_dir, resume=bool(args.resume))
        finally:
            teardown_distributed(ctx)
    except (ConfigError, AuxiliaryNetworkError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TrainingStopped as exc:
        print(str(exc), file=sys.stderr)
        return 3
    if ctx.is_main:
        print(json.dumps({"run_dir": str(result.run_dir), "checkpoint": str(result.checkpoint_path),
                          "metrics": result.metrics}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
