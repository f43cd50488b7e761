"""Fixed 3 raters per image against adaptive allocation, at equal budgets. SIMULATED raters.

    python -m quality.experiments.adaptive                      # ~3-5 min on 2 CPU cores
    python -m quality.experiments.adaptive --no-q --seeds 1     # label errors only, seconds

Images: the demo's (the face photo scikit-image ships, and its mirror image, prepared as the
demo prepares them), degraded K times each with known kinds and strengths by the crowd
simulator (quality/simulate.py), which also gives each image its latent naturalness.
Raters: the simulator's crowd model (a pool of 30 raters with a leniency bias each, N(0, 1)
noise per rating, rounded and clipped to 0-10), drawn on demand so the adaptive design can ask
for ratings one at a time. With --spreads the noise std of each image is multiplied by
LogNormal(0, s): s = 0 is the simulator as it ships; s > 0 is its heteroscedastic option
(CrowdConfig.noise_spread), reported for several values, none tuned.

Ground truth per image: the mean and standard deviation of a rating from the whole pool,
computed exactly from the model (not sampled). Label error: RMSE of the label mean
(all images) and of the label std (ddof=1, images with at least 2 ratings) against it.

Designs: fixed R raters per image (R = 1..7; the paper's is R = 3, budget B = 3N) and
adaptive (studies' rule, quality/adaptive_rule.py: min 2, max 7 raters, batches of 20 images
per rater, never the same rater twice on an image, no stopping rule so it spends the whole
budget); its error is recorded at every 1% of B up to 1.3 B. Q (small, CPU) is trained on
the fixed labels and on the adaptive labels at B, and its Spearman correlation with the TRUE
mean on held-out images is reported (the held-out images are the same for both).

Writes table.md, table.csv, curves.csv, error_vs_ratings.png and run.json (command, commit,
wall time, configuration) to --out (default results/adaptive/).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from quality.adaptive_rule import PoolState, Rule, choose, open_images, priors_estimate
from quality.simulate import CrowdConfig, FaceSource, image_noise_scale, simulate_crowd
from runkit.provenance import git_commit

LEVELS = np.arange(11)
# The platform's rule (prior weight estimated, empirical Bayes) and the same rule with a
# fixed weight of 2 ratings, to show what the estimate changes.
VARIANTS = {"adaptive": True, "adaptive_k2": False}
SIMULATED = "SIMULATED raters (quality/simulate.py's crowd model), not people."


# --- images and truth -------------------------------------------------------------------

def demo_faces(folder: Path) -> list[FaceSource]:
    """The demo's two source faces (ratings_site/demo/faces.py does the same)."""
    from PIL import Image
    from skimage import data

    def prepare(image):
        try:
            from faces.pipeline import prepare_masked_face

            return prepare_masked_face(image).image
        except Exception:  # noqa: BLE001 - no face backend: the demo's centre crop
            side = min(image.shape[:2])
            top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
            crop = image[top:top + side, left:left + side]
            return np.asarray(Image.fromarray(crop).resize((128, 128), Image.BICUBIC))

    astronaut = data.astronaut()
    faces = []
    for name, image in (("astronaut", astronaut), ("astronaut_mirror", astronaut[:, ::-1].copy())):
        path = folder / "package" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(prepare(image)).save(path)
        faces.append(FaceSource(path, "package", f"package/{name}"))
    return faces


def rating_distribution(latent: np.ndarray, biases: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """(images, 11): the probability of each score from a rater drawn from the pool."""
    centre = latent[:, None, None] + biases[None, :, None]
    sd = noise[:, None, None]
    upper = np.where(LEVELS < 10, norm.cdf((LEVELS + 0.5 - centre) / sd), 1.0)
    lower = np.where(LEVELS > 0, norm.cdf((LEVELS - 0.5 - centre) / sd), 0.0)
    return (upper - lower).mean(axis=1)


def truth_moments(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = p @ LEVELS
    return mean, np.sqrt(np.maximum(p @ LEVELS**2 - mean**2, 0.0))


# --- the crowd --------------------------------------------------------------------------

class Crowd:
    def __init__(self, latent, noise_sd, config: CrowdConfig, rng: np.random.Generator):
        self.latent, self.noise_sd, self.rng = latent, noise_sd, rng
        self.biases = rng.normal(0.0, config.bias_std, config.rater_pool)

    def rate(self, image: int, rater: int) -> int:
        raw = self.latent[image] + self.biases[rater] + self.rng.normal(0.0, self.noise_sd[image])
        return int(np.clip(np.rint(raw), 0, 10))


def label_errors(n, s1, s2, true_mean, true_std) -> dict:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        std = np.sqrt(np.maximum(s2 - s1**2 / n, 0.0) / (n - 1))
    # An error over only the images that have a label would flatter a design that skips
    # images: it is defined once every image has one.
    return {
        "mean_rmse": float(np.sqrt(np.mean((mean - true_mean) ** 2))) if (n >= 1).all() else np.nan,
        "std_rmse": float(np.sqrt(np.mean((std - true_std) ** 2))) if (n >= 2).all() else np.nan,
    }


def oracle_budget_to_match(true_std: np.ndarray, fixed: int, lo: int, hi: int) -> float:
    """The least budget (share of fixed * N) at which the best allocation knowing every
    image's TRUE std (n_i proportional to sigma_i, within [lo, hi]; continuous) matches the
    expected mean error of `fixed` raters each: a ceiling for any adaptive rule."""
    var = true_std**2
    target = np.mean(var / fixed)
    for share in np.arange(0.3, 1.5001, 0.005):
        budget = share * fixed * len(var)
        low, high = 0.0, 1e6
        for _ in range(60):  # water-filling: n_i = clip(c sigma_i, lo, hi), sum n_i = budget
            c = (low + high) / 2
            if np.clip(c * true_std, lo, hi).sum() < budget:
                low = c
            else:
                high = c
        n = np.clip(high * true_std, lo, hi)
        if n.sum() >= budget - 1e-6 and np.mean(var / n) <= target:
            return float(share)
    return float("nan")


def fixed_design(crowd: Crowd, size: int, raters: int, pool: int, rng) -> list[list[tuple[int, int]]]:
    """Per image, its raters' (rater, score): R distinct raters, as the platform guarantees."""
    return [[(r, crowd.rate(i, r)) for r in rng.choice(pool, size=raters, replace=False)] for i in range(size)]


def adaptive_run(crowd: Crowd, size: int, budget: int, rule: Rule, pool: int, per_batch: int, rng,
                 record_every: int, on_record, empirical_weight: bool = True) -> PoolState:
    """Raters arrive one batch at a time; each next image is the rule's choice (as the
    platform's SQL makes it). Priors are refreshed per batch, as the platform does."""
    state = PoolState.empty(size)
    had = np.zeros((pool, size), dtype=bool)
    spent = 0
    while spent < budget:
        priors = priors_estimate(state, empirical_weight)
        current = Rule(rule.min_raters, rule.max_raters, rule.half_width, priors["sigma0_sq"], None, priors["prior_weight"])
        if not open_images(state, current).any():
            break
        rater = int(rng.integers(pool))
        for _ in range(per_batch):
            k = choose(state, current, had[rater])
            if k is None or spent >= budget:
                break
            state.add(k, crowd.rate(k, rater))
            had[rater, k] = True
            spent += 1
            if spent % record_every == 0:
                on_record(spent, state)
    return state


# --- Q ----------------------------------------------------------------------------------

def q_spearman(images: pd.DataFrame, mean, std, true_mean, out: Path, steps: int, seed: int) -> dict:
    """Train a small Q on these labels; Spearman with the TRUE mean on the held-out split.
    The held-out rows carry the truth in the file, so training never sees them and the test
    metrics are against the truth for every design alike."""
    from quality.config import TrainConfig
    from quality.model import QualityConfig
    from quality.splits import split_labels
    from quality.train import train

    frame = images.copy()
    frame["mu"], frame["sigma"] = mean, np.nan_to_num(std, nan=0.0)
    test = set(split_labels(frame, seed)["test"]["image_path"])
    held = frame["image_path"].isin(test).to_numpy()
    frame.loc[held, "mu"], frame.loc[held, "sigma"] = true_mean[held], 0.0
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "labels.csv", index=False)
    config = TrainConfig(
        labels=str(out / "labels.csv"), loss="hinge", max_steps=steps, batch_size=32, lr=5e-4,
        warmup_steps=min(50, steps // 10), seed=seed, eval_every=steps, log_every=50,
        checkpoint_every=10**9, keep_checkpoints=1,
        model=QualityConfig(image_size=64, depth=4, channels=16),
    )
    result = train(config, run_dir=out / "run")
    test_metrics = result.metrics["test"]
    return {"spearman": float(test_metrics["spearman"]), "test_images": int(held.sum())}


# --- the experiment ---------------------------------------------------------------------

def run(args) -> dict:
    start = time.time()
    work = Path(tempfile.mkdtemp(prefix="adaptive-"))
    faces = demo_faces(work / "faces")
    labels, truth = simulate_crowd(faces, work / "sim", per_image=args.per_face, seed=args.seed, size=64)
    images = labels[["image_path", "source", "subject", "image_id"]].copy()
    images["image_path"] = [str(work / "sim" / p) for p in images["image_path"]]
    images["subject"] = images["image_path"]  # variants of two faces: split by image, not person
    images["n"] = 3
    latent = truth["latent"].to_numpy()
    size = len(latent)
    budget = 3 * size
    config = CrowdConfig()
    rule = Rule(min_raters=args.min_raters, max_raters=args.max_raters, half_width=0.0)
    rows, curves = [], []
    q_rows = []
    for spread in args.spreads:
        for seed in range(args.seeds):
            rng = np.random.default_rng(1000 * seed + int(spread * 100))
            scale_cfg = CrowdConfig(noise_spread=spread)
            noise_sd = config.noise_std * np.array([image_noise_scale(scale_cfg, rng) for _ in range(size)])
            crowd = Crowd(latent, noise_sd, config, rng)
            true_mean, true_std = truth_moments(rating_distribution(latent, crowd.biases, noise_sd))
            fixed = fixed_design(crowd, size, args.max_raters, config.rater_pool, rng)
            fixed_errors = {}
            for r in range(1, args.max_raters + 1):
                scores = np.array([[s for _, s in image[:r]] for image in fixed], dtype=float)
                err = label_errors(np.full(size, r, float), scores.sum(1), (scores**2).sum(1), true_mean, true_std)
                fixed_errors[r] = err
                curves.append({"spread": spread, "seed": seed, "design": "fixed", "ratings": r * size, **err})
            fixed3_std = np.array([[s for _, s in image[:3]] for image in fixed], dtype=float).std(1, ddof=1)
            target = fixed_errors[3]
            row = {
                "spread": spread, "seed": seed, "images": size,
                "true_std_p10": float(np.percentile(true_std, 10)), "true_std_p90": float(np.percentile(true_std, 90)),
                "label_std_p10": float(np.percentile(fixed3_std, 10)), "label_std_p90": float(np.percentile(fixed3_std, 90)),
                "fixed3_mean_rmse": target["mean_rmse"], "fixed3_std_rmse": target["std_rmse"],
                "oracle_budget_to_match_mean": oracle_budget_to_match(true_std, 3, args.min_raters, args.max_raters),
            }
            step = max(budget // 100, 1)
            for variant, empirical in VARIANTS.items():
                points = {}

                def record(spent, state, variant=variant, points=points):
                    err = label_errors(state.n, state.s1, state.s2, true_mean, true_std)
                    points[spent] = err
                    curves.append({"spread": spread, "seed": seed, "design": variant, "ratings": spent, **err})

                adaptive_run(crowd, size, int(budget * 1.3), rule, config.rater_pool, args.per_batch,
                             np.random.default_rng(rng.integers(2**32)), step, record, empirical)
                at_budget = points.get(budget - budget % step) or points[max(points)]
                matched = [s for s in sorted(points) if points[s]["mean_rmse"] <= target["mean_rmse"]]
                matched_std = [s for s in sorted(points) if points[s]["std_rmse"] <= target["std_rmse"]]
                row.update({
                    f"{variant}_mean_rmse": at_budget["mean_rmse"], f"{variant}_std_rmse": at_budget["std_rmse"],
                    f"{variant}_budget_to_match_mean": (matched[0] / budget) if matched else np.nan,
                    f"{variant}_budget_to_match_std": (matched_std[0] / budget) if matched_std else np.nan,
                })
                print(f"[{SIMULATED}] spread {spread} seed {seed} {variant}: mean RMSE fixed {target['mean_rmse']:.3f} "
                      f"adaptive {at_budget['mean_rmse']:.3f}; budget to match {row[f'{variant}_budget_to_match_mean']:.2f} B",
                      flush=True)
            rows.append(row)
            if args.q_steps and seed == 0 and spread in args.q_spreads:
                # Adaptive labels at exactly the fixed design's budget.
                state = _replay_to(crowd, size, budget, rule, config.rater_pool, args.per_batch, 1000 * seed + 7)
                fixed3 = np.array([[s for _, s in image[:3]] for image in fixed], dtype=float)
                designs = {
                    "fixed 3": (fixed3.mean(1), fixed3.std(1, ddof=1)),
                    "adaptive": _moments(state),
                }
                for name, (mean, std) in designs.items():
                    tag = f"{name.replace(' ', '')}-s{spread}"
                    q = q_spearman(images, mean, std, true_mean, work / "q" / tag, args.q_steps, args.seed)
                    q_rows.append({"spread": spread, "design": name, **q})
                    print(f"  Q trained on {name} labels: held-out Spearman with the truth {q['spearman']:.3f}", flush=True)
    return {"rows": rows, "curves": curves, "q": q_rows, "images": size, "budget": budget,
            "wall_seconds": time.time() - start, "work": str(work)}


def _replay_to(crowd, size, budget, rule, pool, per_batch, seed) -> PoolState:
    return adaptive_run(crowd, size, budget, rule, pool, per_batch, np.random.default_rng(seed), budget + 1, lambda *_: None)


def _moments(state: PoolState):
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = state.s1 / state.n
        std = np.sqrt(np.maximum(state.s2 - state.s1**2 / state.n, 0.0) / (state.n - 1))
    return mean, std


def write(result: dict, args, out: Path, command: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(result["rows"])
    curves = pd.DataFrame(result["curves"])
    table.to_csv(out / "table.csv", index=False)
    curves.to_csv(out / "curves.csv", index=False)
    summary = table.groupby("spread").agg(["mean", "std"]).drop(columns=["seed", "images"], level=0)
    budget = result["budget"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, title in ((axes[0], "mean_rmse", "label mean"), (axes[1], "std_rmse", "label std (n >= 2)")):
        for spread, colour in zip(args.spreads, plt.cm.viridis(np.linspace(0, 0.85, len(args.spreads)))):
            sub = curves[curves.spread == spread]
            fixed = sub[sub.design == "fixed"].groupby("ratings")[metric].mean()
            adapt = sub[sub.design == "adaptive"].groupby("ratings")[metric].mean()
            ax.plot(fixed.index / budget, fixed.values, "o--", color=colour, label=f"fixed R=1..{args.max_raters}, spread {spread}")
            ax.plot(adapt.index / budget, adapt.values, "-", color=colour, label=f"adaptive, spread {spread}")
            k2 = sub[sub.design == "adaptive_k2"].groupby("ratings")[metric].mean()
            ax.plot(k2.index / budget, k2.values, ":", color=colour, lw=1, label=f"adaptive, prior weight 2, spread {spread}")
        ax.axvline(1.0, color="grey", lw=0.8)
        ax.axvline(0.7, color="red", lw=0.8, ls=":")
        ax.set_xlabel("ratings spent / fixed 3-rater budget")
        ax.set_ylabel(f"RMSE of {title} vs truth")
        ax.set_title(f"{title}: SIMULATED raters")
        ax.set_xlim(0.3, 1.35)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "error_vs_ratings.png", dpi=120)
    lines = [
        f"# Fixed 3 raters vs adaptive allocation: {SIMULATED}",
        "",
        f"`{command}`; {result['images']} demo images (2 faces x {args.per_face} simulated degradations), "
        f"budget B = 3 x {result['images']} = {budget} ratings; adaptive: min {args.min_raters}, max {args.max_raters} raters, "
        f"batches of {args.per_batch}; {args.seeds} crowd seed(s) per spread (mean ± sd over seeds).",
        "",
        "| noise spread | true std p10-p90 | label std (3 raters) p10-p90 | design | mean RMSE @B | std RMSE @B | budget to match fixed-3 mean RMSE | ... std RMSE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spread, g in table.groupby("spread"):
        def ms(col, fmt="{:.3f}"):
            return f"{fmt.format(g[col].mean())} ± {fmt.format(g[col].std(ddof=0))}"
        head = f"| {spread} | {g.true_std_p10.mean():.2f}-{g.true_std_p90.mean():.2f} | {g.label_std_p10.mean():.2f}-{g.label_std_p90.mean():.2f} "
        lines.append(head + f"| fixed 3 | {ms('fixed3_mean_rmse')} | {ms('fixed3_std_rmse')} | 100% | 100% |")
        for variant in VARIANTS:
            lines.append(
                head + f"| {variant} | {ms(variant + '_mean_rmse')} | {ms(variant + '_std_rmse')} "
                f"| {ms(variant + '_budget_to_match_mean', '{:.0%}')} | {ms(variant + '_budget_to_match_std', '{:.0%}')} |"
            )
        lines.append(head + f"| oracle (knows true std) | | | {ms('oracle_budget_to_match_mean', '{:.0%}')} | |")
    if result["q"]:
        lines += ["", "Q trained on each design's labels at budget B (64 px, depth 4, "
                  f"{args.q_steps} steps, hinge loss; held-out images identical): Spearman with the TRUE mean.", "",
                  "| noise spread | design | held-out Spearman | held-out images |", "|---|---|---|---|"]
        lines += [f"| {q['spread']} | {q['design']} | {q['spearman']:.3f} | {q['test_images']} |" for q in result["q"]]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    meta = {
        "command": command, "git_commit": git_commit(), "wall_seconds": round(result["wall_seconds"], 1),
        "simulated": SIMULATED, "args": {k: v for k, v in vars(args).items() if k != "out"},
        "crowd": asdict(CrowdConfig()), "summary_by_spread": json.loads(summary.to_json()),
    }
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m quality.experiments.adaptive", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results/adaptive"))
    p.add_argument("--per-face", type=int, default=300, help="simulated degradations of each of the 2 demo faces")
    p.add_argument("--spreads", type=lambda s: [float(x) for x in s.split(",")], default=[0.0, 0.25, 0.5, 0.75])
    p.add_argument("--q-spreads", type=lambda s: [float(x) for x in s.split(",")], default=[0.0, 0.5])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0, help="images and Q")
    p.add_argument("--min-raters", type=int, default=2)
    p.add_argument("--max-raters", type=int, default=7)
    p.add_argument("--per-batch", type=int, default=20)
    p.add_argument("--q-steps", type=int, default=300, help="Q training steps per design (0: no Q)")
    p.add_argument("--no-q", dest="q_steps", action="store_const", const=0)
    args = p.parse_args(argv)
    if args.min_raters < 1 or args.max_raters < args.min_raters:
        print("error: need 1 <= --min-raters <= --max-raters", file=sys.stderr)
        return 2
    command = "python -m quality.experiments.adaptive " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    write(run(args), args, args.out, command.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
