"""The paper's comparison (Table 1) as one resumable command.

    python -m legan.compare --preset cpu  [--name table1-cpu] [--data-root ../shared/data]
    python -m legan.compare --preset paper --device cuda --data-root /data   # a GPU, Multi-PIE if you have it

On one subject-disjoint split of real faces, with the same seed, image size and iteration
budget, it trains

  legan          LEGAN with the paper's losses and weights (section 5)
  stargan        StarGAN as its authors train it: lambda_cls 1, lambda_rec 10, lambda_gp 10, no
                 identity, quality or TV term
  stargan_qual   the same plus the quality loss L_qual (the paper's "StarGAN w/ L_qual")
  legan_noqual   LEGAN without L_qual (ablation)

then evaluates all of them on the held-out test pairs (legan.evaluate) and writes
results/<name>/: table1.md and .csv, grid.png (rows: input, target, each model), curves.png
(loss and validation curves of every model) and run.json (command, git commit, evaluation-set
hash, device, wall time, preset). Checkpoints and data stay under --runs (not committed).

One Q serves every model, for L_qual and for the quality column. It is trained on crowd
labels when --q-labels names a platform export of them, else on SIMULATED crowd labels over
the real training-split faces (quality.simulate); the table says which. An interrupted
comparison continues from its checkpoints when run again with the same arguments.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from legan.data.pairs import EvalSet, build_evalset, load_evalset
from runkit.provenance import device_description, git_commit

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
# Several sources name the same condition differently: one vocabulary for the combined set.
RELABEL = {"lighting": {"normal": "frontal", "center": "frontal"},
           "expression": {"happiness": "happy", "surprised": "surprise", "angry": "anger"}}
STARGAN_AUTHORS_LOSS = {"lambda_cls": 1.0, "lambda_rec": 10.0, "lambda_gp": 10.0, "lambda_id": 0.0,
                        "lambda_qual": 0.0, "lambda_tv": 0.0}


@dataclass
class Preset:
    image_size: int
    datasets: tuple[str, ...]
    iterations: int  # D iterations per model (n_critic of them per G step)
    batch_size: int = 10
    n_critic: int = 5
    g_channels: int = 64
    g_res_blocks: Optional[int] = None
    d_channels: int = 64
    d_layers: Optional[int] = None
    q_steps: int = 600
    q_channels: int = 32
    q_depth: int = 5
    attribute_iterations: int = 400
    validate_every: int = 250
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 250
    num_workers: int = 0
    augment: bool = True  # white balance (and recolouring with colourisers): the paper trains with it
    note: str = ""


PRESETS = {
    # About an hour of 2 CPU cores for everything: small images, narrower networks, few steps.
    "cpu": Preset(image_size=32, datasets=("yale_b", "jaffe", "ckplus48"), iterations=4000,
                  g_channels=32, g_res_blocks=3, d_channels=32, d_layers=4, q_steps=2000, q_channels=16,
                  q_depth=3, attribute_iterations=300, validate_every=250, augment=False,
                  note="CPU preset: 32 px, G/D width 32 (paper 64), 3 residual blocks per hourglass "
                       "(paper 4; StarGAN 3, authors 6), 4,000 D iterations (800 G steps) per model, "
                       "about 17 epochs of the 2,366 training images (paper: 100 epochs of 33,305); no "
                       "augmentation (the data are grey and no colouriser is trained here)"),
    # The paper's setting: 128 px, batch 10, full networks, 100 epochs of ~33,000 Multi-PIE images
    # (here: of whatever --datasets hold; set --iterations to 100 epochs of your data).
    "paper": Preset(image_size=128, datasets=("multipie",), iterations=333_050, q_steps=20_000,
                    attribute_iterations=5_000, validate_every=5_000, log_every=100, sample_every=5_000,
                    checkpoint_every=5_000, num_workers=4,
                    note="paper preset: 128 px, batch 10, paper networks, 100 epochs of 33,305 images"),
}
# Minutes on any machine: checks that data, Q, training, evaluation and the results folder work.
PRESETS["smoke"] = replace(PRESETS["cpu"], iterations=4, g_channels=8, g_res_blocks=1, d_channels=8, q_steps=4,
                           q_channels=4, attribute_iterations=4, validate_every=2, log_every=2, sample_every=4,
                           checkpoint_every=2, note="smoke preset: a few steps, numbers mean nothing")
MODELS = ("legan", "stargan", "stargan_qual", "legan_noqual", "stargan_v2")
DEFAULT_MODELS = MODELS[:4]  # StarGAN v2 on request (--models ...,stargan_v2): 4 networks per step cost most


@dataclass
class Plan:
    name: str
    preset: Preset
    models: tuple[str, ...]
    runs: Path
    results: Path
    data_root: Path
    device: str
    seed: int = 0
    q_labels: Optional[Path] = None
    evaluate_only: bool = False  # evaluate an earlier run's finished checkpoints; train nothing
    sources: dict = field(default_factory=dict)  # dataset name -> folder (overrides data_root/name)

    @property
    def root(self) -> Path:
        return self.runs / self.name


def log(message: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- data --------------------------------------------------------------------------------------
def prepare_manifest(plan: Plan) -> Path:
    """Build (or reuse) each dataset's cached manifest at the preset size; combine and relabel."""
    from legan.data.build import build_manifest
    from legan.data.manifest import combine_manifests
    from legan.data.sources import SCANNERS

    size = plan.preset.image_size
    cache = plan.runs / "data" / f"{size}px"
    paths = []
    for name in plan.preset.datasets:
        root = Path(plan.sources.get(name, plan.data_root / name))
        if not root.is_dir():
            raise SystemExit(f"dataset folder {root} for {name} does not exist (see --data-root / --source)")
        manifest = cache / name / "manifest.csv"
        if not manifest.is_file():
            log(f"preprocessing {name} at {size} px")
            build_manifest(SCANNERS[name](root), cache / name, size=size, progress=False)
        paths.append(manifest)
    combined_path = cache / ("+".join(plan.preset.datasets)) / "manifest.csv"
    frame = combine_manifests(paths, combined_path)
    for column, mapping in RELABEL.items():
        frame[column] = frame[column].replace(mapping)
    frame.to_csv(combined_path, index=False)
    return combined_path


def class_lists(manifest: Path) -> tuple[list[str], list[str]]:
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    first = lambda names, lead: sorted(names, key=lambda n: (n != lead, n))  # noqa: E731
    return first(frame["expression"].unique(), "neutral"), first(frame["lighting"].unique(), "frontal")


def prepare_evalset(plan: Plan) -> EvalSet:
    root = plan.root / "evalset"
    if (root / "evalset.json").is_file():
        return load_evalset(root)
    manifest = prepare_manifest(plan)
    expressions, lightings = class_lists(manifest)
    log(f"evaluation set: {len(expressions)} expressions {expressions}, {len(lightings)} lightings {lightings}")
    return build_evalset(manifest, root, expressions=expressions, lightings=lightings, seed=plan.seed)


# -- the quality model Q and the attribute classifier -----------------------------------------------
def train_quality_model(plan: Plan, evalset: EvalSet) -> tuple[Path, str]:
    """(Q checkpoint, where its labels came from). Trained on training-split faces only."""
    from quality.config import TrainConfig as QTrainConfig
    from quality.model import QualityConfig
    from quality.train import train as q_train

    q_dir = plan.root / "quality"
    source = (f"crowd labels ({plan.q_labels})" if plan.q_labels else
              "SIMULATED crowd labels (quality.simulate) over the real training-split faces, hull-masked")
    labels = plan.q_labels
    if labels is None and (q_dir / "simulated" / "labels.csv").is_file():
        labels = q_dir / "simulated" / "labels.csv"
    elif labels is None:
        labels = simulate_labels(evalset, q_dir / "simulated", plan.preset.image_size, plan.seed)
    p = plan.preset
    model = QualityConfig(image_size=p.image_size, channels=p.q_channels, max_channels=8 * p.q_channels,
                          depth=p.q_depth, fc_width=4 * p.q_channels)
    config = QTrainConfig(labels=str(labels), max_steps=p.q_steps, batch_size=32, model=model, seed=plan.seed,
                          device="cuda" if plan.device.startswith("cuda") else "cpu", log_every=50,
                          checkpoint_every=max(50, p.q_steps // 4), warmup_steps=min(100, p.q_steps // 10))
    log(f"Q ({p.q_steps} steps) on {source}")
    result = q_train(config, run_dir=q_dir / "run", resume=(q_dir / "run").is_dir())  # a finished run returns at once
    return Path(result.checkpoint_path), source + quality_held_out(q_dir)


def quality_held_out(q_dir: Path) -> str:
    held_out = q_dir / "run" / "eval" / "test_metrics.json"
    if not held_out.is_file():
        return ""
    m = json.loads(held_out.read_text())
    return f"; Q on its own held-out labels: {', '.join(f'{k} {v:.3f}' for k, v in m.items() if isinstance(v, float))}"


def trained_artifacts(plan: Plan, evalset: EvalSet) -> tuple[dict, Path, str, Optional[Path]]:
    """--evaluate-only: the finished checkpoints, Q and attribute classifier of an earlier run of
    this plan; nothing is trained. A missing or unfinished one is an error, not a retrain."""
    import torch

    from runkit.checkpoints import latest_checkpoint, list_checkpoints

    checkpoints = {}
    for model in plan.models:
        folder = plan.root / "models" / model / "checkpoints"
        path = latest_checkpoint(folder)
        if path is None:
            raise SystemExit(f"--evaluate-only: {model} has no checkpoint in {folder}; run without it to train")
        done = torch.load(path, map_location="cpu", weights_only=False)["iteration"]
        wanted = model_config(plan, evalset, model, Path("q.pt")).max_iterations
        if done < wanted:
            raise SystemExit(f"--evaluate-only: {model} stopped at iteration {done} of {wanted}; run without it to resume")
        checkpoints[model] = path
    q_dir = plan.root / "quality"
    q_found = list_checkpoints(q_dir / "run" / "checkpoints")
    attributes = plan.root / "attributes" / "classifier.pt"
    if not q_found or not attributes.is_file():
        raise SystemExit(f"--evaluate-only: no trained Q or attribute classifier under {plan.root}")
    source = (f"crowd labels ({plan.q_labels})" if plan.q_labels else
              "SIMULATED crowd labels (quality.simulate) over the real training-split faces, hull-masked")
    return checkpoints, q_found[-1], source + quality_held_out(q_dir), attributes


def simulate_labels(evalset: EvalSet, out_dir: Path, size: int, seed: int) -> Path:
    """Hull-masked training-split faces (what Q reads) rated by the simulated crowd."""
    from PIL import Image

    from legan.data.dataset import load_face
    from legan.data.manifest import read_manifest, resolve_path
    from quality.simulate import FaceSource, simulate_crowd

    faces_dir = out_dir / "faces"
    frame = read_manifest(evalset.manifest("train"), check_files=False)
    faces = []
    for row in frame.itertuples(index=False):
        image, mask = load_face(resolve_path(evalset.root, row.image_path), size,
                                resolve_path(evalset.root, row.mask_path) if getattr(row, "mask_path", "") else None)
        source = str(getattr(row, "source", "") or "faces")
        path = faces_dir / source / f"{Path(row.image_path).stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image * mask[..., None]).save(path)  # black outside the hull, as Q sees faces
        faces.append(FaceSource(path, source, f"{source}/{row.subject}"))
    simulate_crowd(faces, out_dir, per_image=2, seed=seed, size=size)
    return out_dir / "labels.csv"


def train_attributes(plan: Plan, evalset: EvalSet) -> Optional[Path]:
    from legan.metrics.attributes import train_attribute_classifier

    path = plan.root / "attributes" / "classifier.pt"
    if path.is_file():
        return path
    log("training the attribute classifier on the real training split")
    return Path(train_attribute_classifier(evalset.manifest("train"), list(evalset.expressions),
                                           list(evalset.lightings), plan.preset.image_size, path,
                                           iterations=plan.preset.attribute_iterations, seed=plan.seed,
                                           device=plan.device, test_manifest=evalset.manifest("test")))


# -- the generators ----------------------------------------------------------------------------
def model_config(plan: Plan, evalset: EvalSet, model: str, q_checkpoint: Path):
    from legan.arch import ModelConfig
    from legan.config import TrainConfig
    from legan.loss import LossConfig

    p = plan.preset
    if model == "stargan_v2":
        return stargan_v2_config(plan, evalset)
    arch = "stargan" if model.startswith("stargan") else "legan"
    loss = LossConfig(quality_input_size=p.image_size)
    if arch == "stargan":
        loss = replace(loss, **STARGAN_AUTHORS_LOSS)
    if model in ("legan", "stargan_qual"):
        loss.lambda_qual = LossConfig().lambda_qual
    elif model in ("legan_noqual", "stargan"):
        loss.lambda_qual = 0.0
    return TrainConfig(
        manifest=str(evalset.manifest("train").resolve()), expressions=list(evalset.expressions),
        lightings=list(evalset.lightings), image_size=p.image_size,
        model=ModelConfig(arch=arch, g_channels=p.g_channels, g_res_blocks=p.g_res_blocks,
                          d_channels=p.d_channels, d_layers=p.d_layers),
        loss=loss, q_checkpoint=str(q_checkpoint) if loss.lambda_qual > 0 else None,
        augment=p.augment, batch_size=p.batch_size, n_critic=p.n_critic, max_iterations=p.iterations, seed=plan.seed,
        device=plan.device, num_workers=p.num_workers, log_every=p.log_every, sample_every=p.sample_every,
        checkpoint_every=p.checkpoint_every, keep_checkpoints=1, progress=False,
        validation_pairs=str(evalset.pairs_path("val").resolve()), validate_every=p.validate_every)


def stargan_v2_config(plan: Plan, evalset: EvalSet):
    """StarGAN v2 with its authors' losses and optimiser; one of its iterations updates G once (and D
    twice), so it gets iterations / n_critic of them: as many generator updates as the others. Its
    widths follow the preset's (the authors' rule gives 512 channels at 32 px)."""
    from legan.arch import ModelConfig
    from legan.config import TrainConfig
    from legan.loss import LossConfig

    p = plan.preset
    width = {} if p.g_channels >= 64 else {"dim_in": p.g_channels, "max_conv_dim": 8 * p.g_channels,
                                           "hidden_dim": 8 * p.g_channels}
    return TrainConfig(
        manifest=str(evalset.manifest("train").resolve()), expressions=list(evalset.expressions),
        lightings=list(evalset.lightings), image_size=p.image_size, model=ModelConfig(arch="stargan-v2"),
        loss=LossConfig(lambda_id=0.0, lambda_qual=0.0), stargan_v2=width, batch_size=p.batch_size,
        max_iterations=max(1, p.iterations // p.n_critic), seed=plan.seed, device=plan.device,
        num_workers=p.num_workers, log_every=max(1, p.log_every // p.n_critic),
        sample_every=max(1, p.sample_every // p.n_critic), checkpoint_every=max(1, p.checkpoint_every // p.n_critic),
        keep_checkpoints=1, progress=False, validation_pairs=str(evalset.pairs_path("val").resolve()),
        validate_every=max(1, p.validate_every // p.n_critic))


def train_model(plan: Plan, evalset: EvalSet, model: str, q_checkpoint: Path) -> Path:
    from runkit.checkpoints import latest_checkpoint, list_checkpoints

    if model == "stargan_v2":
        from legan.stargan_v2.train import train
    else:
        from legan.train import train

    run_dir = plan.root / "models" / model
    config = model_config(plan, evalset, model, q_checkpoint)
    resume = bool(list_checkpoints(run_dir / "checkpoints"))
    log(f"{'resuming' if resume else 'training'} {model} ({config.max_iterations} D iterations)")

    def progress(step: int, total: int, stats: dict) -> None:
        val = {k[4:]: round(v, 3) for k, v in stats.items() if k.startswith("Val/")}
        log(f"{model} {step}/{total} {stats.get('sec_per_iter', 0):.2f} s/it "
            f"G/rec {stats.get('Loss/G/rec', float('nan')):.3f} {val or ''}")

    result = train(config, run_dir=run_dir, resume=resume, on_progress=progress)
    return Path(result.checkpoint_path or latest_checkpoint(run_dir / "checkpoints"))


# -- results -----------------------------------------------------------------------------------
def plot_curves(plan: Plan, models, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from runkit.runs import read_stats

    keys = ["Loss/G/rec", "Loss/D/total", "Val/ssim_target", "Val/self_match", "Val/input_dependence"]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.4))
    for model in models:
        stats = read_stats(plan.root / "models" / model / "stats.jsonl")
        for ax, key in zip(axes, keys):
            pts = [(r["iteration"], r[key]) for r in stats if key in r]
            if pts:
                ax.plot(*zip(*pts), marker="." if key.startswith("Val/") else None, label=model)
    for ax, key in zip(axes, keys):
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("D iteration", fontsize=8)
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def run(plan: Plan, argv: list[str]) -> Path:
    from legan.evaluate import evaluate_translators
    from legan.translator import load_translator

    started = time.time()
    commit = git_commit()  # the code that runs, even if the tree moves on meanwhile
    timings: dict[str, float] = {}

    def timed(label, fn, *args, **kwargs):
        t0 = time.time()
        value = fn(*args, **kwargs)
        timings[label] = timings.get(label, 0.0) + time.time() - t0
        return value

    evalset = timed("data", prepare_evalset, plan)
    if plan.evaluate_only:
        checkpoints, q_checkpoint, q_source, attributes = trained_artifacts(plan, evalset)
    else:
        q_checkpoint, q_source = timed("Q", train_quality_model, plan, evalset)
        attributes = timed("attribute classifier", train_attributes, plan, evalset)
        checkpoints = {m: timed(f"train {m}", train_model, plan, evalset, m, q_checkpoint) for m in plan.models}
    log("evaluating on the test pairs")
    translators = {m: load_translator(path, plan.device, name=m) for m, path in checkpoints.items()}
    notes = [f"Q: {q_source}", plan.preset.note]
    if any(m.startswith("stargan") and m != "stargan_v2" for m in plan.models):
        notes.append("stargan, stargan_qual: the StarGAN generator and discriminator with the authors' loss "
                     "weights (lambda_cls 1, lambda_rec 10, lambda_gp 10; no identity or TV term); stargan_qual "
                     "adds L_qual (0.5, q = 8) as the paper's 'StarGAN w/ L_qual'")
    if "stargan_v2" in plan.models:
        notes.append("stargan_v2: the authors' losses and optimiser, iterations / n_critic steps (as many "
                     "generator updates as the others), evaluated with its EMA generator, latent-guided")
    result = timed("evaluate", evaluate_translators, translators, evalset, plan.root / "eval",
                   split="test", image_size=plan.preset.image_size, device=plan.device,
                   q_checkpoint=str(q_checkpoint), attribute_classifier=str(attributes) if attributes else None,
                   notes=notes)
    out = plan.results
    out.mkdir(parents=True, exist_ok=True)
    for src in (result.table_md, result.table_csv, result.grid_png):
        (out / src.name).write_bytes(src.read_bytes())
    plot_curves(plan, plan.models, out / "curves.png")
    wall = time.time() - started
    meta = {"command": "python -m legan.compare " + " ".join(shlex.quote(a) for a in argv),
            "git_commit": commit, "evalset_hash": evalset.content_hash, "device": device_description(plan.device),
            "wall_seconds": round(wall, 1), "seconds_by_stage": {k: round(v, 1) for k, v in timings.items()},
            "preset": asdict(plan.preset), "models": list(plan.models), "q_labels": q_source,
            "evalset": json.loads((evalset.root / "evalset.json").read_text()),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    meta["evalset"].pop("source_manifest", None)  # a local path
    previous = out / "run.json"
    if plan.evaluate_only and previous.is_file():  # the run that trained these checkpoints
        before = json.loads(previous.read_text())
        meta["trained_by"] = before.get("trained_by") or {k: before.get(k) for k in (
            "command", "git_commit", "device", "wall_seconds", "seconds_by_stage", "finished")}
    (out / "run.json").write_text(json.dumps(meta, indent=2))
    log(f"done in {wall / 60:.1f} min: {out}")
    print(result.table_md.read_text())
    return out


def parse_args(argv: list[str]) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m legan.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--name", help="results/<name> and runs/<name> (default: table1-<preset>)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help=f"comma-separated, from {MODELS}")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--source", action="append", default=[], metavar="NAME=DIR", help="a dataset's own folder")
    parser.add_argument("--datasets", help="override the preset's datasets (comma-separated)")
    parser.add_argument("--iterations", type=int, help="override the preset's D iterations per model")
    parser.add_argument("--runs", type=Path, default=REPO_ROOT / "runs" / "compare")
    parser.add_argument("--results", type=Path, default=REPO_ROOT / "results")
    parser.add_argument("--q-labels", type=Path, help="a platform label export to train Q on (else simulated)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate-only", action="store_true",
                        help="evaluate the finished checkpoints of an earlier run again (e.g. after a metric changed)")
    args = parser.parse_args(argv)
    preset = PRESETS[args.preset]
    if args.datasets:
        preset = replace(preset, datasets=tuple(n.strip() for n in args.datasets.split(",") if n.strip()))
    if args.iterations:
        preset = replace(preset, iterations=args.iterations)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {MODELS}")
    sources = {}
    for spec in args.source:
        name, sep, folder = spec.partition("=")
        if not sep:
            parser.error(f"--source expects NAME=DIR, got {spec!r}")
        sources[name] = Path(folder)
    name = args.name or f"table1-{args.preset}"
    return Plan(name=name, preset=preset, models=models, runs=args.runs, results=args.results / name,
                data_root=args.data_root, device=args.device, seed=args.seed, q_labels=args.q_labels,
                sources=sources, evaluate_only=args.evaluate_only)


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    plan = parse_args(argv)
    run(plan, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
