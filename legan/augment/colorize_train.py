"""Train a pix2pix colouriser (grey face -> colour face) on any colour face set.

    python -m legan.augment.colorize_train --images DIR --out RUN_DIR --steps N \
        [--batch-size 8 --image-size 128 --lambda-l1 100 --lr 2e-4] [--resume] [--dry-run]

The paper trains two such generators on different colour sets (UMDFaces, FFHQ) to
get two colour styles. RUN_DIR receives config.json, stats.jsonl, samples/*.png
(rows: grey input | generated | real), plots/losses.png, checkpoints/checkpoint-*.pt
(G, D, both optimizers and schedulers, step, config, RNG state; --resume continues
from the newest) and generator.pt (the generator alone, what Recolorizer loads).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from legan.augment.colorize_data import ColourFaceFolder
from legan.augment.colorize_loss import Pix2PixLoss, set_requires_grad
from legan.augment.colorize_model import ColorizeNetConfig, PatchDiscriminator, UNetGenerator
from legan.augment.colorize_artifacts import (
    GENERATOR_FILE,
    KEEP_CHECKPOINTS,
    save_generator,
    save_loss_plot,
    save_sample_grid,
)
from runkit.checkpoints import capture_rng, checkpoint_path, latest_checkpoint, restore_rng, save_checkpoint
from runkit.device import select_device
from runkit.loop import IterationLoop, LoopHooks, TrainResult
from runkit.runs import CHECKPOINTS_DIR, CONFIG_NAME, SAMPLES_DIR, STATS_NAME, StatsWriter, read_config, write_json

MSG_RUN_EXISTS = "Run folder {run_dir} already holds a run; pass --resume to continue it or choose a new --out."
MSG_NOTHING_TO_RESUME = "--resume: no checkpoint in {run_dir}/checkpoints."
MSG_RESUME_MISMATCH = "--resume: option {name} is {given!r} but the run was started with {saved!r}."
MSG_BAD_OPTION = "Invalid option: {problem}"


# Options a resumed run may change; everything else must match the run's config.json.
RESUME_MAY_CHANGE = ("steps", "log_every", "sample_every", "checkpoint_every", "device")


@dataclass
class ColorizeTrainConfig:
    images: str
    steps: int = 20_000
    batch_size: int = 8
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0
    decay_start: float = 0.5  # pix2pix "linear" policy: constant, then linear decay to 0 from this fraction
    flip: bool = True
    seed: int = 0
    device: str = "auto"
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    net: ColorizeNetConfig = field(default_factory=ColorizeNetConfig)

    def validate(self) -> None:
        problems = []
        if self.steps < 1:
            problems.append("steps must be >= 1")
        if self.batch_size < 1:
            problems.append("batch_size must be >= 1")
        if not 0.0 <= self.decay_start <= 1.0:
            problems.append("decay_start must be in [0, 1]")
        if self.lr <= 0:
            problems.append("lr must be > 0")
        if min(self.log_every, self.sample_every, self.checkpoint_every) < 1:
            problems.append("log/sample/checkpoint intervals must be >= 1")
        if problems:
            raise ValueError(MSG_BAD_OPTION.format(problem="; ".join(problems)))
        self.net.validate()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ColorizeTrainConfig":
        data = dict(data)
        net = ColorizeNetConfig(**data.pop("net", {}))
        return cls(net=net, **data)


def linear_decay(total_steps: int, decay_start: float) -> Callable[[int], float]:
    start = int(total_steps * decay_start)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1, total_steps - start))

    return factor


class BatchSchedule:
    """Batch indices as a pure function of the step: seeded permutation per epoch, last partial batch dropped."""

    def __init__(self, n_items: int, batch_size: int, seed: int) -> None:
        self.n_items = n_items
        self.batch_size = min(batch_size, n_items)
        self.per_epoch = n_items // self.batch_size
        self.seed = seed

    def batch(self, step: int) -> tuple[int, np.ndarray]:
        epoch, k = divmod(step, self.per_epoch)
        order = np.random.default_rng((self.seed, epoch)).permutation(self.n_items)
        return epoch, order[k * self.batch_size:(k + 1) * self.batch_size]


def _collate(dataset: ColourFaceFolder, indices: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    items = [dataset[int(i)] for i in indices]
    grey = torch.stack([it["grey"] for it in items]).to(device)  # (B, 1, S, S)
    colour = torch.stack([it["colour"] for it in items]).to(device)  # (B, 3, S, S)
    return grey, colour


@torch.no_grad()
def evaluate_l1(generator: UNetGenerator, dataset: ColourFaceFolder, device: torch.device, limit: int = 64) -> float:
    """Mean L1 (in [-1, 1] units) of G(grey) vs the colour image, eval mode, first `limit` items (no flip)."""
    was_training = generator.training
    generator.eval()
    flip, dataset.flip = dataset.flip, False
    total, count = 0.0, 0
    for start in range(0, min(limit, len(dataset)), 16):
        grey, colour = _collate(dataset, np.arange(start, min(start + 16, limit, len(dataset))), device)
        total += (generator(grey) - colour).abs().mean(dim=(1, 2, 3)).sum().item()
        count += grey.shape[0]
    dataset.flip = flip
    generator.train(was_training)
    return total / count


class _Trainer:
    def __init__(self, config: ColorizeTrainConfig, run_dir: Path, resume: bool) -> None:
        config.validate()
        self.config, self.run_dir = config, run_dir
        self.device = select_device(config.device)
        torch.manual_seed(config.seed)
        self.dataset = ColourFaceFolder(config.images, config.net.image_size, config.flip, config.seed)
        self.schedule = BatchSchedule(len(self.dataset), config.batch_size, config.seed)
        self.G = UNetGenerator(config.net).to(self.device)
        self.D = PatchDiscriminator(config.net).to(self.device)
        betas = (config.beta1, config.beta2)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=betas)
        decay = linear_decay(config.steps, config.decay_start)
        self.sched_G = torch.optim.lr_scheduler.LambdaLR(self.opt_G, decay)
        self.sched_D = torch.optim.lr_scheduler.LambdaLR(self.opt_D, decay)
        self.loss = Pix2PixLoss(self.G, self.D, config.lambda_l1)
        self.step = 0
        n_fixed = min(8, len(self.dataset))
        self.fixed_grey, self.fixed_colour = _collate(self.dataset, np.arange(n_fixed), self.device)
        if resume:
            self._load(latest_checkpoint(run_dir / CHECKPOINTS_DIR))

    def _load(self, path: Path | None) -> None:
        if path is None:
            raise FileNotFoundError(MSG_NOTHING_TO_RESUME.format(run_dir=self.run_dir))
        state = torch.load(path, map_location=self.device, weights_only=False)
        for name in ("G", "D", "opt_G", "opt_D", "sched_G", "sched_D"):
            getattr(self, name).load_state_dict(state[name])
        self.step = int(state["step"])
        if "rng" in state:
            restore_rng(state["rng"])
        else:  # written before runkit: torch (and CUDA) states only
            torch.set_rng_state(state["torch_rng"])
            if self.device.type == "cuda" and state.get("cuda_rng") is not None:
                torch.cuda.set_rng_state_all(state["cuda_rng"])

    def state(self) -> dict:
        return {
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "sched_G": self.sched_G.state_dict(), "sched_D": self.sched_D.state_dict(),
            "step": self.step, "config": self.config.to_dict(), "rng": capture_rng(),
        }

    def train_step(self) -> dict:
        epoch, indices = self.schedule.batch(self.step)
        self.dataset.epoch = epoch
        grey, colour = _collate(self.dataset, indices, self.device)
        fake = self.G(grey)  # (B, 3, S, S)
        set_requires_grad(self.D, True)
        self.opt_D.zero_grad(set_to_none=True)
        stats = self.loss.accumulate_gradients("D", grey, colour, fake)
        self.opt_D.step()
        set_requires_grad(self.D, False)
        self.opt_G.zero_grad(set_to_none=True)
        stats |= self.loss.accumulate_gradients("G", grey, colour, fake)
        self.opt_G.step()
        self.sched_G.step()
        self.sched_D.step()
        self.step += 1
        return stats

    def save(self) -> Path:
        path = save_checkpoint(checkpoint_path(self.run_dir / CHECKPOINTS_DIR, self.step), self.state(),
                               keep=KEEP_CHECKPOINTS)
        save_generator(self.run_dir / GENERATOR_FILE, self.G, self.config.net, self.step)
        save_loss_plot(self.run_dir)
        return path

    def samples(self) -> None:
        self.G.eval()
        with torch.no_grad():
            fake = self.G(self.fixed_grey)
        self.G.train()
        save_sample_grid(self.run_dir / SAMPLES_DIR / f"step_{self.step:07d}.png", self.fixed_grey, fake, self.fixed_colour)


def train(
    config: ColorizeTrainConfig,
    *,
    run_dir: str | Path,
    resume: bool = False,
    on_progress: Callable[[int, int, dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Same callback contract as quality.train / legan.train."""
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_NAME
    if resume:
        saved = read_config(run_dir) if config_path.is_file() else None
        if saved is not None:
            given = config.to_dict()
            for name, value in given.items():
                if name not in RESUME_MAY_CHANGE and saved.get(name) != value:
                    raise ValueError(MSG_RESUME_MISMATCH.format(name=name, given=value, saved=saved.get(name)))
    elif config_path.is_file():
        raise FileExistsError(MSG_RUN_EXISTS.format(run_dir=run_dir))
    trainer = _Trainer(config, run_dir, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(config_path, config.to_dict() | {"n_images": len(trainer.dataset)})

    sums: dict[str, float] = {}
    n_since_log = 0

    def log(step: int, done: bool, sec_per_step: float, validation: dict) -> None:
        nonlocal sums, n_since_log
        stats = {name: total / n_since_log for name, total in sums.items()}
        stats |= {"lr": trainer.sched_G.get_last_lr()[0], "sec_per_step": sec_per_step}
        stats_log.write({"step": step} | stats)
        if on_progress is not None:
            on_progress(step, config.steps, stats)
        sums, n_since_log = {}, 0

    stats_log = StatsWriter(run_dir / STATS_NAME, resume_at=trainer.step)
    hooks = LoopHooks(log=log, checkpoint=lambda step: trainer.save(), sample=lambda step: trainer.samples(),
                      stop_requested=should_stop or (lambda: False))
    loop = IterationLoop(hooks, start=trainer.step, total=config.steps, per_epoch=1, log_every=config.log_every,
                         sample_every=config.sample_every, checkpoint_every=config.checkpoint_every)
    loop.last_checkpoint = latest_checkpoint(run_dir / CHECKPOINTS_DIR)
    for _ in loop.positions():  # the batch is a function of the step (BatchSchedule)
        for name, value in trainer.train_step().items():
            sums[name] = sums.get(name, 0.0) + value
        n_since_log += 1
        loop.end_iteration()
    loop.close()
    last_checkpoint = loop.last_checkpoint
    if last_checkpoint is None:  # resumed at or beyond the final step
        last_checkpoint = trainer.save()
    metrics = {"step": trainer.step, "l1_train": evaluate_l1(trainer.G, trainer.dataset, trainer.device)}
    write_json(run_dir / "metrics.json", metrics)
    return TrainResult(run_dir=run_dir, checkpoint_path=last_checkpoint, metrics=metrics)


def dry_run(config: ColorizeTrainConfig) -> dict:
    """Validate options and data and run one forward pass; write nothing."""
    config.validate()
    dataset = ColourFaceFolder(config.images, config.net.image_size, config.flip, config.seed)
    device = select_device(config.device)
    generator = UNetGenerator(config.net).to(device)
    grey, _ = _collate(dataset, np.arange(min(2, len(dataset))), device)
    with torch.no_grad():
        out = generator(grey)
    return {"n_images": len(dataset), "left_out": len(dataset.left_out), "output_shape": list(out.shape),
            "generator_params": sum(p.numel() for p in generator.parameters()), "device": str(device)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults, net = ColorizeTrainConfig(images=""), ColorizeNetConfig()
    p = argparse.ArgumentParser(description="Train a pix2pix grey -> colour face generator.")
    p.add_argument("--images", required=True, help="folder of colour face images (searched recursively)")
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--steps", type=int, default=defaults.steps)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--image-size", type=int, default=net.image_size)
    p.add_argument("--num-downs", type=int, default=None, help="U-Net depth (default log2(image_size))")
    p.add_argument("--ngf", type=int, default=net.ngf)
    p.add_argument("--ndf", type=int, default=net.ndf)
    p.add_argument("--norm", choices=("batch", "instance"), default=net.norm)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--lambda-l1", type=float, default=defaults.lambda_l1)
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--device", default=defaults.device)
    p.add_argument("--log-every", type=int, default=defaults.log_every)
    p.add_argument("--sample-every", type=int, default=defaults.sample_every)
    p.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> ColorizeTrainConfig:
    num_downs = args.num_downs if args.num_downs is not None else int(np.log2(args.image_size))
    net = ColorizeNetConfig(image_size=args.image_size, ngf=args.ngf, ndf=args.ndf, num_downs=num_downs, norm=args.norm)
    return ColorizeTrainConfig(
        images=str(args.images), steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        lambda_l1=args.lambda_l1, flip=not args.no_flip, seed=args.seed, device=args.device,
        log_every=args.log_every, sample_every=args.sample_every, checkpoint_every=args.checkpoint_every, net=net,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
        if args.dry_run:
            print(json.dumps(dry_run(config), indent=2))
            return 0

        def report(step: int, total: int, stats: dict) -> None:
            shown = " ".join(f"{k}={v:.4g}" for k, v in stats.items())
            print(f"[{step}/{total}] {shown}", flush=True)

        result = train(config, run_dir=args.out, resume=args.resume, on_progress=report)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"run_dir": str(result.run_dir), "checkpoint": str(result.checkpoint_path)} | result.metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
