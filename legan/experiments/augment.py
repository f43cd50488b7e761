"""Synthetic faces as training data (the paper's Tables 4 and 5, at this data's scale).

    python -m legan.data.build_manifests --out /tmp/legan_data --datasets yale_b jaffe ckplus48
    python -m legan.experiments.augment --preset cpu --train-generator --out results/augment-cpu
    python -m legan.experiments.augment --preset gpu --generator run/checkpoints/checkpoint-N.pt

(a) Expression recognition on JAFFE + CK+48 (subject-disjoint splits): a small CNN trained from
    scratch, ROC AUC per class (one vs rest) and averaged, with and without augments.
(b) Face verification on Yale B (subject-disjoint): the same CNN trained from scratch as an
    identity classifier; every test pair scored by the cosine similarity of its embeddings;
    TPR at FPR 1% and ROC AUC, with and without augments.
Augmented = the real training images plus one synthetic copy of each, made by the generator
(`legan.synthesis`) with a random expression and a random lighting (as the paper does): for (a)
the expression differs from the source's and becomes the copy's label; for (b) the lighting
differs and the copy keeps its identity. Each training runs once per seed (initial weights,
batch order and synthetic targets); the table gives mean, sample standard deviation and a
paired t-test (augmented vs original, paired by seed) per metric.

The generator is a checkpoint of any architecture (--generator), or a small LEGAN trained here
on the training splits only (--train-generator; no quality or identity loss: no Q / T needed).
Outputs in --out: table.md, table.csv (summary), seeds.csv (every run), run.json (command,
git commit, data hash, wall time, device, configuration). The generator run and its samples
stay in --work-dir, outside the repository (they are made from face data).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from legan.experiments.augment_data import (EXPRESSION_SETS, VERIFICATION_SET, FaceSet, combined_manifest,
                                            data_hash, load_face_set, split_path, synthesize)
from legan.experiments.augment_models import (ClassifierConfig, expression_auc, train_classifier,
                                              verification_scores)
from legan.data.manifest import classes_of
from runkit.device import select_device
from runkit.provenance import device_description, git_commit

CONDITIONS = ("original", "augmented")
MSG_NO_GENERATOR = "give --generator CHECKPOINT or --train-generator"
MSG_BOTH_GENERATORS = "give either --generator or --train-generator, not both"
PAPER_NOTE = ("Paper (different scale): Table 4, LightCNN-29 TPR@FPR=1% on IJB-B 0.954 -> 0.967 and LFW "
              "0.966 -> 0.972 with LEGAN augments; Table 5, ROC AUC on AffectNet neutral 0.851 -> 0.868, "
              "happy 0.955 -> 0.956, surprise 0.873 -> 0.890, disgust 0.887 -> 0.897.")


@dataclass
class GeneratorTraining:
    """The small LEGAN trained by --train-generator."""

    iterations: int = 1500
    batch_size: int = 16
    g_channels: int = 16
    g_res_blocks: int = 2
    d_channels: int = 32
    d_layers: int = 4
    seed: int = 0


@dataclass
class AugmentConfig:
    data_root: str = "/tmp/legan_data"
    out: str = "results/augment-cpu"
    work_dir: str = "/tmp/legan_augment"
    generator: Optional[str] = None
    train_generator: bool = False
    image_size: int = 32
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    device: str = "auto"
    expression: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(epochs=20))
    verification: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(epochs=15))
    generator_training: GeneratorTraining = field(default_factory=GeneratorTraining)


PRESETS = {
    # cpu: about 25 CPU-minutes on one thread (generator ~5, 12 classifier trainings ~18, measured
    # piece by piece): well within an hour on an idle 2-core machine.
    "cpu": AugmentConfig(),
    "gpu": AugmentConfig(out="results/augment-gpu", image_size=64,
                         expression=ClassifierConfig(width=32, embed_dim=128, epochs=40),
                         verification=ClassifierConfig(width=32, embed_dim=128, epochs=30),
                         generator_training=GeneratorTraining(iterations=20000, g_channels=32, g_res_blocks=4,
                                                              d_channels=64, d_layers=5)),
}


def log(message: str) -> None:
    print(f"[augment {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- generator ------------------------------------------------------------------------------
def train_small_legan(cfg: AugmentConfig, train_manifests: list[Path], device: torch.device) -> Path:
    """A LEGAN (no Q / T losses) on the union of the training splits; returns its checkpoint."""
    from legan.arch import ModelConfig
    from legan.config import TrainConfig
    from legan.loss import LossConfig
    from runkit.runs import next_run_dir
    from legan.train import train

    g = cfg.generator_training
    work = Path(cfg.work_dir)
    manifest = combined_manifest(train_manifests, work / "generator_train_manifest.csv")
    expressions, lightings = classes_of([manifest])
    config = TrainConfig(
        manifest=str(manifest), expressions=expressions, lightings=lightings, image_size=cfg.image_size,
        model=ModelConfig(arch="legan", g_channels=g.g_channels, g_res_blocks=g.g_res_blocks,
                          d_channels=g.d_channels, d_layers=g.d_layers),
        loss=LossConfig(lambda_id=0.0, lambda_qual=0.0, quality_input_size=cfg.image_size),
        batch_size=g.batch_size, max_iterations=g.iterations, seed=g.seed, device=str(device), num_workers=0,
        log_every=max(1, g.iterations // 20), sample_every=g.iterations, checkpoint_every=g.iterations,
        keep_checkpoints=1, progress=False)
    run_dir = next_run_dir(work / "generator", "legan-augment")
    log(f"training a LEGAN generator for {g.iterations} iterations into {run_dir}")
    return train(config, run_dir=run_dir).checkpoint_path


def load_any_generator(path: Path, device: torch.device):
    """(G callable as G(x, e, l), expressions, lightings, image size) for any architecture."""
    from legan.checkpoint import load_generator

    G, config = load_generator(Path(path))
    return G.to(device).eval(), list(config.expressions), list(config.lightings), config.image_size


# -- one seed -------------------------------------------------------------------------------
def _concat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, b.to(a.dtype)])


def expression_runs(cfg, generator, train_set: FaceSet, test_set: FaceSet, seed: int, device) -> list[dict]:
    G, g_expr, g_light, g_size = generator
    rows = []
    synth, synth_labels = synthesize(G, g_expr, g_light, g_size, train_set, target_expressions=train_set.expressions,
                                     change="expression", seed=seed)
    data = {"original": (train_set.images, train_set.expression),
            "augmented": (_concat(train_set.images, synth), _concat(train_set.expression, synth_labels))}
    for condition in CONDITIONS:
        images, labels = data[condition]
        model = train_classifier(images, labels, len(train_set.expressions), cfg.expression, seed, device)
        aucs = expression_auc(model, test_set.images, test_set.expression, test_set.expressions, device)
        rows += [{"task": "expression", "metric": f"roc_auc_{name}", "condition": condition, "seed": seed,
                  "value": value, "train_images": len(images)} for name, value in aucs.items()]
    return rows


def verification_runs(cfg, generator, train_set: FaceSet, test_set: FaceSet, seed: int, device) -> list[dict]:
    G, g_expr, g_light, g_size = generator
    ids = sorted(set(train_set.subject))
    identity = torch.tensor([ids.index(s) for s in train_set.subject])
    synth, _ = synthesize(G, g_expr, g_light, g_size, train_set, target_expressions=g_expr, change="lighting",
                          seed=seed)
    data = {"original": (train_set.images, identity),
            "augmented": (_concat(train_set.images, synth), _concat(identity, identity))}
    rows = []
    for condition in CONDITIONS:
        images, labels = data[condition]
        model = train_classifier(images, labels, len(ids), cfg.verification, seed, device)
        scores = verification_scores(model, test_set.images, test_set.subject, device)
        rows += [{"task": "verification", "metric": m, "condition": condition, "seed": seed, "value": scores[m],
                  "train_images": len(images)} for m in ("tpr_at_fpr_1pct", "roc_auc")]
    return rows


# -- summary --------------------------------------------------------------------------------
def paired_p_value(original: list[float], augmented: list[float]) -> float:
    """Two-sided paired t-test p-value (NaN when undefined: fewer than 2 pairs or no variance)."""
    from scipy.stats import ttest_rel

    pairs = [(a, b) for a, b in zip(original, augmented) if not (math.isnan(a) or math.isnan(b))]
    if len(pairs) < 2 or np.allclose([b - a for a, b in pairs], pairs[0][1] - pairs[0][0]):
        return math.nan
    return float(ttest_rel([b for _, b in pairs], [a for a, _ in pairs]).pvalue)


def summarise(rows: list[dict]) -> list[dict]:
    keys = list(dict.fromkeys((r["task"], r["metric"]) for r in rows))
    out = []
    for task, metric in keys:
        per = {c: sorted(((r["seed"], r["value"]) for r in rows
                          if (r["task"], r["metric"], r["condition"]) == (task, metric, c))) for c in CONDITIONS}
        vals = {c: [v for _, v in per[c]] for c in CONDITIONS}
        stats = {}
        for c in CONDITIONS:
            finite = [v for v in vals[c] if not math.isnan(v)]
            stats[f"{c}_mean"] = float(np.mean(finite)) if finite else math.nan
            stats[f"{c}_std"] = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
        out.append({"task": task, "metric": metric, **stats,
                    "difference": stats["augmented_mean"] - stats["original_mean"],
                    "p_value_paired_t": paired_p_value(vals["original"], vals["augmented"]),
                    "seeds": len(vals["original"])})
    return out


def _fmt(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.3f} ± {std:.3f}" if not math.isnan(std) else f"{mean:.3f}"


def render_markdown(summary: list[dict], meta: dict) -> str:
    lines = ["# Synthetic faces as training data", "",
             f"Command: `{meta['command']}`  ",
             f"Git commit: `{meta['git_commit']}`; data hash (sha256 of manifests and images): `{meta['data_hash']}`  ",
             f"Wall time: {meta['wall_time_s'] / 60:.1f} min on {meta['device']}; seeds {meta['seeds']}; "
             f"generator: {meta['generator']}  ",
             f"Training images (original / augmented): expression {meta['train_images']['expression']}, "
             f"verification {meta['train_images']['verification']}; test images: expression "
             f"{meta['test_images']['expression']}, verification {meta['test_images']['verification']}", ""]
    for task, title in (("expression", "(a) Expression recognition, JAFFE + CK+48 (subject-disjoint), ROC AUC"),
                        ("verification", "(b) Face verification, Yale B (subject-disjoint)")):
        lines += [f"## {title}", "",
                  "| metric | original | augmented | difference | paired t-test p |", "|---|---|---|---|---|"]
        for s in (s for s in summary if s["task"] == task):
            p = "n/a" if math.isnan(s["p_value_paired_t"]) else f"{s['p_value_paired_t']:.3f}"
            diff = "n/a" if math.isnan(s["difference"]) else f"{s['difference']:+.3f}"
            lines.append(f"| {s['metric']} | {_fmt(s['original_mean'], s['original_std'])} | "
                         f"{_fmt(s['augmented_mean'], s['augmented_std'])} | {diff} | {p} |")
        lines.append("")
    lines += ["Mean ± sample standard deviation over seeds; p from a two-sided paired t-test over seeds "
              "(three pairs: little power). n/a: the test split has no image of that class.", "", PAPER_NOTE, ""]
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)


# -- the experiment -------------------------------------------------------------------------
def run(cfg: AugmentConfig, command: str = "") -> dict:
    if cfg.generator and cfg.train_generator:
        raise ValueError(MSG_BOTH_GENERATORS)
    if not (cfg.generator or cfg.train_generator):
        raise ValueError(MSG_NO_GENERATOR)
    started = time.perf_counter()
    commit = git_commit()  # the code that runs, even if the checkout moves meanwhile
    device = select_device(cfg.device)
    root = Path(cfg.data_root)
    expr_paths = {s: [split_path(root, d, s) for d in EXPRESSION_SETS] for s in ("train", "test")}
    verif_paths = {s: [split_path(root, VERIFICATION_SET, s)] for s in ("train", "test")}
    every = expr_paths["train"] + expr_paths["test"] + verif_paths["train"] + verif_paths["test"]
    if cfg.generator and not Path(cfg.generator).is_file():
        raise FileNotFoundError(f"generator checkpoint not found: {cfg.generator}")
    checkpoint = (Path(cfg.generator) if cfg.generator else
                  train_small_legan(cfg, expr_paths["train"] + verif_paths["train"], device))
    generator = load_any_generator(checkpoint, device)
    log(f"generator {checkpoint}: {len(generator[1])} expressions, {len(generator[2])} lightings, {generator[3]} px")

    e_expr, e_light = classes_of(expr_paths["train"] + expr_paths["test"])
    v_expr, v_light = classes_of(verif_paths["train"] + verif_paths["test"])
    sets = {"expression": {s: load_face_set(expr_paths[s], e_expr, e_light, cfg.image_size) for s in expr_paths},
            "verification": {s: load_face_set(verif_paths[s], v_expr, v_light, cfg.image_size) for s in verif_paths}}
    rows: list[dict] = []
    for seed in cfg.seeds:
        log(f"seed {seed}: expression recognition")
        rows += expression_runs(cfg, generator, sets["expression"]["train"], sets["expression"]["test"], seed, device)
        log(f"seed {seed}: face verification")
        rows += verification_runs(cfg, generator, sets["verification"]["train"], sets["verification"]["test"],
                                  seed, device)
    summary = summarise(rows)
    meta = {"command": command, "git_commit": commit, "data_hash": data_hash(every),
            "wall_time_s": time.perf_counter() - started, "device": device_description(device),
            "seeds": list(cfg.seeds), "generator": str(checkpoint),
            "generator_kind": "trained here (--train-generator)" if cfg.train_generator else "given (--generator)",
            "train_images": {t: [r["train_images"] for r in rows if r["task"] == t and r["seed"] == cfg.seeds[0]
                                 and r["metric"] in ("roc_auc_mean", "roc_auc")][:2] for t in sets},
            "test_images": {t: len(sets[t]["test"]) for t in sets},
            "config": asdict(cfg)}
    meta["train_images"] = {t: " / ".join(map(str, v)) for t, v in meta["train_images"].items()}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "table.csv", summary)
    write_csv(out / "seeds.csv", rows)
    (out / "table.md").write_text(render_markdown(summary, meta))
    (out / "command.txt").write_text(command + "\n")
    (out / "run.json").write_text(json.dumps(meta, indent=2, default=str))
    log(f"done in {meta['wall_time_s'] / 60:.1f} min: {out / 'table.md'}")
    return {"summary": summary, "rows": rows, "meta": meta}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m legan.experiments.augment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--data-root", help="cache of legan.data.build_manifests (default /tmp/legan_data)")
    p.add_argument("--out", help="results folder (default results/augment-<preset>)")
    p.add_argument("--work-dir", help="generator runs, outside the repository (default /tmp/legan_augment)")
    p.add_argument("--generator", help="a training checkpoint of any architecture (legan, stargan, stargan-v2)")
    p.add_argument("--train-generator", action="store_true", help="train a small LEGAN on the training splits")
    p.add_argument("--seeds", type=int, nargs="+")
    p.add_argument("--image-size", type=int)
    p.add_argument("--device")
    p.add_argument("--generator-iterations", type=int)
    p.add_argument("--expression-epochs", type=int)
    p.add_argument("--verification-epochs", type=int)
    return p


def config_from_args(args: argparse.Namespace) -> AugmentConfig:
    cfg = PRESETS[args.preset]
    cfg = replace(cfg, expression=replace(cfg.expression), verification=replace(cfg.verification),
                  generator_training=replace(cfg.generator_training), seeds=list(cfg.seeds))
    for name in ("data_root", "out", "work_dir", "generator", "image_size", "device"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    cfg.train_generator = args.train_generator
    if args.seeds:
        cfg.seeds = args.seeds
    if args.generator_iterations:
        cfg.generator_training.iterations = args.generator_iterations
    if args.expression_epochs:
        cfg.expression.epochs = args.expression_epochs
    if args.verification_epochs:
        cfg.verification.epochs = args.verification_epochs
    return cfg


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        result = run(config_from_args(args), command=shlex.join(["python", "-m", "legan.experiments.augment", *argv]))
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"out": result["meta"]["config"]["out"], "wall_time_s": round(result["meta"]["wall_time_s"], 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
