"""Benchmark the quality model Q: CPU throughput and the loss comparison on a SIMULATED crowd.

Part A (throughput, 128x128, batch 32, default QualityConfig):
  training images/s (forward + backward + Adam) and scoring images/s, beside two baselines
  measured in the same run: data loading (PNG decode + normalise) images/s, and a plain
  1024x1024 fp32 matmul's GFLOP/s against which the network's achieved GFLOP/s is read.
Part B (held-out quality of each loss):
  real faces from /work/shared/data (stylegan2ada_samples, jaffe, yale_a, a sample of ckplus48)
  -> quality.simulate (SIMULATED raters, not people) -> the normal training code path with
  losses "paper", "hinge", "mse" -> metrics on the held-out test split (subject-disjoint),
  beside a trivial baseline that predicts the training mean and the simulator's own ceiling
  (Spearman of the noiseless latent naturalness with mu).

  python bench/bench_quality.py            # ~10 min on 2 cores
  python bench/bench_quality.py --quick    # ~3 min, fewer steps
  The loss comparison runs Q at 64x64 (depth 4, 16 channels) by default so three trainings
  fit in the CPU budget; --image-size 128 --channels 32 --steps N runs the paper's size.

Results: printed, and written to bench/results/quality/results.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quality.config import TrainConfig  # noqa: E402
from quality.data import QualityDataset  # noqa: E402
from faces.io import list_images  # noqa: E402
from quality.labels import load_labels  # noqa: E402
from quality.losses import LOSSES  # noqa: E402
from quality.metrics import compute_metrics, json_safe  # noqa: E402
from quality.model import QualityConfig, QualityNet, count_parameters  # noqa: E402
from quality.score import score_images  # noqa: E402
from quality.simulate import FaceSource, simulate_crowd  # noqa: E402
from quality.splits import split_labels  # noqa: E402
from quality.train import train  # noqa: E402

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


# ---------------------------------------------------------------- faces from the shared data
def shared_faces(root: Path, ckplus_count: int) -> list[FaceSource]:
    """Real faces with their real subject ids, so the split keeps people apart."""
    faces = []
    for p in list_images(root / "stylegan2ada_samples"):
        faces.append(FaceSource(p, "stylegan2ada", f"sg/{p.stem}"))
    for p in list_images(root / "jaffe"):
        faces.append(FaceSource(p, "jaffe", f"jaffe/{p.name.split('.')[0]}"))
    for p in list_images(root / "yale_a"):
        faces.append(FaceSource(p, "yale_a", f"yale_a/{p.name.split('.')[0]}"))
    ck = list_images(root / "ckplus48")
    if ck and ckplus_count > 0:
        pick = np.random.default_rng(0).choice(len(ck), size=min(ckplus_count, len(ck)), replace=False)
        for i in sorted(pick):
            faces.append(FaceSource(ck[i], "ckplus48", f"ck/{ck[i].name.split('_')[0]}"))
    return faces


# ---------------------------------------------------------------- part A: throughput
def conv_flops(config: QualityConfig) -> float:
    """Multiply-adds x2 of one forward pass (convs + the two linear layers)."""
    flops, side, in_ch = 0.0, config.image_size, 3
    for out_ch in config.stage_channels():
        side //= 2
        flops += 2.0 * side * side * out_ch * in_ch * 16
        in_ch = out_ch
    flops += 2.0 * in_ch * side * side * config.fc_width + 2.0 * config.fc_width
    return flops


def timed(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def throughput(labels_path: Path | None, repeats: int) -> dict:
    cfg = QualityConfig()
    model = QualityNet(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = 32
    x = torch.rand(batch, 3, 128, 128) * 2 - 1  # (B, 3, 128, 128)
    mu = torch.rand(batch) * 10

    def train_step():
        opt.zero_grad(set_to_none=True)
        ((model(x) - mu) ** 2).mean().backward()
        opt.step()

    t_train = timed(train_step, repeats)
    images_u8 = [((x[i].permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.uint8) for i in range(batch)]
    model.eval()
    t_score = timed(lambda: score_images(model, images_u8, batch_size=batch), repeats)
    with torch.no_grad():
        t_forward = timed(lambda: model(x), repeats)

    a = torch.randn(1024, 1024)
    t_mm = timed(lambda: a @ a, max(repeats, 5))
    matmul_gflops = 2 * 1024**3 / t_mm / 1e9
    fwd = conv_flops(cfg)
    out = {
        "parameters": count_parameters(model), "batch": batch, "image_size": 128,
        "train_images_per_s": batch / t_train, "score_images_per_s": batch / t_score,
        "forward_only_images_per_s": batch / t_forward,
        "model_forward_gflop_per_image": fwd / 1e9,
        "train_achieved_gflops": 3 * fwd * batch / t_train / 1e9,  # backward ~ 2x forward
        "baseline_matmul_1024_gflops": matmul_gflops,
    }
    if labels_path is not None:
        ds = QualityDataset(load_labels(labels_path), image_size=128, cache=False)
        n = min(len(ds), 256)
        start = time.perf_counter()
        for i in range(n):
            ds[i]
        out["baseline_data_loading_images_per_s"] = n / (time.perf_counter() - start)
    return out


# ---------------------------------------------------------------- part B: losses
def compare_losses(labels_path: Path, truth_path: Path, out_dir: Path, steps: int, seed: int,
                   model_cfg: QualityConfig, lr: float) -> dict:
    import pandas as pd

    labels = load_labels(labels_path)
    splits = split_labels(labels, seed)
    test = splits["test"]
    results = {"split_sizes": {k: len(v) for k, v in splits.items()}}

    train_mean = float(splits["train"]["mu"].mean())
    results["baseline_train_mean"] = json_safe(compute_metrics(
        np.full(len(test), train_mean), test["mu"].to_numpy(), test["sigma"].to_numpy()))
    truth = pd.read_csv(truth_path).set_index("image_path")
    latent = truth.loc[test["image_path"], "latent"].to_numpy()
    results["ceiling_noiseless_latent"] = json_safe(compute_metrics(
        latent, test["mu"].to_numpy(), test["sigma"].to_numpy()))

    for loss in sorted(LOSSES):
        config = TrainConfig(labels=str(labels_path), loss=loss, max_steps=steps, batch_size=32,
                             lr=lr, warmup_steps=min(50, steps // 10), seed=seed, model=model_cfg,
                             eval_every=max(steps // 4, 1), log_every=25, checkpoint_every=10**9,
                             keep_checkpoints=1)
        start = time.perf_counter()
        result = train(config, run_dir=out_dir / "runs" / f"{loss}-seed{seed}")
        elapsed = time.perf_counter() - start
        results[loss] = {**result.metrics["test"], "val": result.metrics.get("val"),
                         "train_seconds": elapsed, "run_dir": str(result.run_dir)}
        t = results[loss]
        print(f"  {loss:6s} test MAE {t['mae']:.3f}  within-sigma {t['within_sigma']:.3f}  "
              f"Spearman {t['spearman']:.3f}  Pearson {t['pearson']:.3f}  ({elapsed:.0f} s)", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=DATA_ROOT)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "quality")
    p.add_argument("--quick", action="store_true", help="fewer steps (smoke run, ~3 min)")
    p.add_argument("--steps", type=int, default=None, help="training steps per loss (default 400, quick 80)")
    p.add_argument("--per-image", type=int, default=4)
    p.add_argument("--ckplus", type=int, default=150, help="ckplus48 images to include")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--channels", type=int, default=16, help="Q width for the loss comparison")
    p.add_argument("--image-size", type=int, default=64, help="Q input side for the loss comparison "
                   "(64 fits the 10-minute CPU budget; 128 is the paper's, use it with a GPU)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prepare", action="store_true", help="align + hull-mask with faces/ "
                   "(default: centre crop, which needs no face detector)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = args.steps or (80 if args.quick else 400)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"torch": torch.__version__, "python": platform.python_version(),
                    "threads": torch.get_num_threads(), "steps_per_loss": steps, "seed": args.seed}

    sim_dir = args.out / "sim"
    faces = shared_faces(args.data_root, args.ckplus) if args.data_root.is_dir() else []
    labels_path = None
    if faces:
        prepare = None
        if args.prepare:
            from quality.score import face_preparer
            from runkit.contract import InputContract
            prepare = face_preparer(InputContract(size=128, mask="hull"))
        start = time.perf_counter()
        labels, _ = simulate_crowd(faces, sim_dir, per_image=args.per_image, seed=args.seed,
                                   size=128, prepare=prepare)
        labels_path = sim_dir / "labels.csv"
        report["simulation"] = {"faces": len(faces), "images": len(labels),
                                "sources": labels["source"].value_counts().to_dict(),
                                "mu_mean": float(labels["mu"].mean()),
                                "sigma_mean": float(labels["sigma"].mean()),
                                "preprocessing": "faces.pipeline" if args.prepare else "centre crop",
                                "seconds": time.perf_counter() - start}
        print(f"SIMULATED crowd: {len(labels)} images from {len(faces)} faces "
              f"({report['simulation']['preprocessing']})", flush=True)
    else:
        print(f"no face data under {args.data_root}: throughput only, on random tensors", flush=True)

    print("A. throughput (128x128, batch 32, CPU)", flush=True)
    report["throughput"] = throughput(labels_path, repeats=3 if args.quick else 6)
    for key, value in report["throughput"].items():
        print(f"  {key:36s} {value:,.2f}" if isinstance(value, float) else f"  {key:36s} {value}")

    if labels_path is not None:
        depth = 5 if args.image_size >= 128 else 4
        model_cfg = QualityConfig(image_size=args.image_size, depth=depth, channels=args.channels)
        report["loss_model"] = model_cfg.to_dict()
        print(f"B. held-out comparison of losses ({steps} steps each, batch 32, {args.image_size}px, "
              f"channels {args.channels})",
              flush=True)
        report["losses"] = compare_losses(labels_path, sim_dir / "simulation.csv", args.out, steps,
                                          args.seed, model_cfg, args.lr)
        b = report["losses"]["baseline_train_mean"]
        c = report["losses"]["ceiling_noiseless_latent"]
        print(f"  {'mean':6s} test MAE {b['mae']:.3f}  within-sigma {b['within_sigma']:.3f}  "
              f"Spearman undefined (constant prediction)")
        print(f"  ceiling (noiseless simulator latent): MAE {c['mae']:.3f}  Spearman {c['spearman']:.3f}")
        ranked = sorted(LOSSES, key=lambda k: -(report["losses"][k]["spearman"] or -1))
        print(f"  best held-out Spearman: {ranked[0]}")
    (args.out / "results.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
