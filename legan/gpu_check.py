"""scripts/gpu-check: prove in minutes that a (GPU) machine trains Q and LEGAN correctly and fast.

    scripts/gpu-check --out results/gpu-check/ [--identity-weights dlib_face_recognition_resnet_model_v1.dat]
    scripts/gpu-check --out /tmp/check --cpu-small          # the same checks at a tiny size (CI)

Needs only torch and the pure packages' dependencies (requirements-gpu.txt): no Django, no
database, no dlib. On a CUDA machine (preset "gpu": 128 px, batch 10, bf16) it
  1. runs the CUDA-marked tests (tests/gpu, pytest -m cuda),
  2. makes a small synthetic face set (labelled for Q, with expression/lighting for LEGAN),
  3. trains Q for 200 steps, then LEGAN for 200 D-iterations with that Q and the real identity
     network T (the dlib ResNet; without its weights file a randomly initialised T of the same
     architecture is used and the report says so), checking that every logged loss is finite,
  4. checks that a stopped and resumed run continues exactly (bitwise, in deterministic mode),
     for Q and for LEGAN,
  5. runs bench/bench_legan.py (LEGAN against StarGAN: it/s, FLOPs, TFLOP/s, peak memory),
and writes report.json (versions, device, it/s, TFLOP/s, peak memory, each check's result and
the projected paper-scale wall times) and sample-grid.png to --out. Exit status 1 when a check
fails. Without CUDA the preset "cpu-small" runs (or pass --cpu-small).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

# cuBLAS needs this before its first call to be deterministic (the resume checks); it costs
# nothing measurable for these convolution-bound networks.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from runkit.provenance import git_commit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXPRESSIONS = ["neutral", "smile", "surprise"]
LIGHTINGS = ["front", "left", "right"]
PAPER_LEGAN_ITERATIONS = 33_305 / 10 * 100  # 100 epochs over 33,305 images at batch 10
Q_PAPER_IMAGES, Q_EPOCHS = 37_000, 30  # quality.config.TrainConfig.epochs
GOALS = {"legan_paper_hours": 2.0, "q_paper_minutes": 10.0, "total_minutes": 8.0}

PRESETS = {
    "gpu": dict(size=128, batch=10, n_images=300, q_iters=200, legan_iters=200, resume_iters=20,
                n_critic=5, workers=4, log_every=10, q_model={}, legan_model={},
                bench=["--iters", "20", "--amp", "on"]),
    # n_critic 2 so that the few iterations include G steps; T left out of the (CPU) bench only
    "cpu-small": dict(size=32, batch=4, n_images=16, q_iters=6, legan_iters=4, resume_iters=2,
                      n_critic=2, workers=0, log_every=2,
                      q_model=dict(channels=4, max_channels=16, depth=3, fc_width=8),
                      legan_model=dict(g_channels=8, g_res_blocks=1, d_channels=8, d_layers=3),
                      bench=["--iters", "0", "--batch", "2", "--threads", "1", "--tiny-nets", "--identity", "none"]),
}


# -- synthetic data ------------------------------------------------------------------------
def _face(rng: np.random.Generator, size: int, expression: int, lighting: int, noise: float) -> np.ndarray:
    """A drawn face (S, S, 3) uint8: skin ellipse, eyes, an expression-specific mouth, a
    lighting-specific shading ramp, and `noise` (the degradation Q learns to rate)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.empty((size, size, 3))
    img[:] = rng.uniform(30, 90, 3)
    face = ((yy - 0.52) / 0.42) ** 2 + ((xx - 0.5) / 0.33) ** 2 <= 1
    img[face] = np.array([205, 160, 130]) * rng.uniform(0.8, 1.1)
    for cx in (0.38, 0.62):
        img[((yy - 0.42) ** 2 + (xx - cx) ** 2) <= 0.045 ** 2] = (40, 30, 30)
    if expression == 0:  # neutral: a thin line
        img[(np.abs(yy - 0.72) < 0.015) & (np.abs(xx - 0.5) < 0.1)] = (120, 50, 50)
    elif expression == 1:  # smile: a wide bar
        img[(np.abs(yy - 0.72) < 0.03) & (np.abs(xx - 0.5) < 0.16)] = (230, 220, 220)
    else:  # surprise: an open mouth
        img[((yy - 0.73) / 0.07) ** 2 + ((xx - 0.5) / 0.05) ** 2 <= 1] = (20, 10, 10)
    ramp = [np.ones_like(xx), 0.5 + xx, 1.5 - xx][lighting]
    img = img * ramp[..., None] + rng.normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), face


def make_dataset(folder: Path, n: int, size: int, seed: int = 0) -> tuple[Path, Path]:
    """Writes n faces (+ masks), labels.csv for Q and manifest.csv for LEGAN; returns both."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = ["image_path,mu,sigma,subject,source"]
    manifest = ["image_path,subject,expression,lighting,mask_path"]
    for i in range(n):
        e, l, level = i % 3, (i // 3) % 3, i % 5
        image, mask = _face(rng, size, e, l, noise=4.0 + 12.0 * level)
        Image.fromarray(image).save(folder / f"f{i:04d}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(folder / f"f{i:04d}_mask.png")
        subject = f"s{i // 9}"
        labels.append(f"f{i:04d}.png,{9.0 - 1.6 * level + rng.normal(0, 0.3):.3f},{rng.uniform(0.5, 1.5):.3f},"
                      f"{subject},synthetic")
        manifest.append(f"f{i:04d}.png,{subject},{EXPRESSIONS[e]},{LIGHTINGS[l]},f{i:04d}_mask.png")
    (folder / "labels.csv").write_text("\n".join(labels) + "\n")
    (folder / "manifest.csv").write_text("\n".join(manifest) + "\n")
    return folder / "labels.csv", folder / "manifest.csv"


# -- bookkeeping ---------------------------------------------------------------------------
def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Report:
    def __init__(self, out: Path, preset: str) -> None:
        self.out, self.preset = out, preset
        self.checks: dict[str, dict] = {}
        self.figures: dict[str, object] = {}
        self.t0 = time.perf_counter()

    @contextlib.contextmanager
    def check(self, name: str):
        """Records passed / failed (with the error) and the duration; never raises."""
        entry = {"status": "passed"}
        self.checks[name] = entry
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        print(f"[gpu-check] {name} ...", file=sys.stderr, flush=True)
        try:
            yield entry
        except Exception as exc:  # a failed check is reported, the others still run
            entry.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                         traceback=traceback.format_exc()[-3000:])
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        entry["cpu_seconds"] = round(_cpu_seconds() - cpu0, 2)  # this process and its children
        print(f"[gpu-check] {name}: {entry['status']} ({entry['seconds']} s)"
              + (f" {entry.get('error')}" if entry["status"] == "failed" else ""), file=sys.stderr, flush=True)

    @property
    def ok(self) -> bool:
        return all(c["status"] != "failed" for c in self.checks.values())

    def write(self, extra: dict) -> Path:
        payload = {"ok": self.ok, "preset": self.preset, "wall_s": round(time.perf_counter() - self.t0, 1),
                   **extra, "figures": self.figures, "checks": self.checks}
        path = self.out / "report.json"
        path.write_text(json.dumps(payload, indent=2, default=str))
        return path


def environment() -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "cuda_available": torch.cuda.is_available(), "torch_cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "platform": platform.platform(), "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(device=torch.cuda.get_device_name(0), device_count=torch.cuda.device_count(),
                    device_memory_gib=round(p.total_memory / 2**30, 1), capability=f"{p.major}.{p.minor}",
                    bf16_supported=torch.cuda.is_bf16_supported())
    commit = git_commit(ROOT)
    info["commit"] = None if commit == "unknown" else commit
    return info


@contextlib.contextmanager
def deterministic():
    """Deterministic kernels for the resume checks (bitwise comparisons); restored after."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2], saved[3]


def _finite_losses(stats: list[dict], prefix: str) -> dict:
    losses = {k: v for row in stats for k, v in row.items() if k.startswith(prefix)}
    bad = sorted({k for row in stats for k, v in row.items()
                  if k.startswith(prefix) and not (isinstance(v, (int, float)) and math.isfinite(v))})
    if not losses:
        raise AssertionError(f"no {prefix}* values were logged")
    if bad:
        raise AssertionError(f"non-finite losses: {bad}")
    return {k: round(float(v), 5) for k, v in stats[-1].items() if k.startswith(prefix)}


def _stopper(after: int, polls_before_step: bool):
    """should_stop that fires after `after` steps (Q polls before a step, LEGAN after one)."""
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > after if polls_before_step else calls["n"] == after

    return should_stop


def _max_abs_diff(a: dict, b: dict) -> float:
    return max((float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].numel()), default=0.0)


def resume_verdict(straight: dict, resumed: dict, repeat, caught: list) -> dict:
    """Bitwise equality of the uninterrupted and the stopped-and-resumed run's weights. When
    they differ and kernels without a deterministic version ran (a warning each), a repeat of
    the uninterrupted run measures that noise: the resume passes if it adds nothing beyond it."""
    differ = [k for k in straight if not torch.equal(straight[k], resumed[k])]
    out = {"bitwise_equal": not differ, "differing_tensors": differ[:10],
           "nondeterministic_ops": sorted({str(w.message)[:200] for w in caught})[:8]}
    if not differ:
        return out
    out["max_abs_diff_resumed"] = _max_abs_diff(straight, resumed)
    if not out["nondeterministic_ops"]:
        raise AssertionError(f"resumed run differs from the uninterrupted one in {len(differ)} tensors "
                             f"(max |diff| {out['max_abs_diff_resumed']:.3g}) with deterministic kernels")
    out["max_abs_diff_repeat"] = _max_abs_diff(straight, repeat())
    if out["max_abs_diff_resumed"] > 10 * out["max_abs_diff_repeat"] + 1e-7:
        raise AssertionError(f"resumed run differs by {out['max_abs_diff_resumed']:.3g}, beyond the "
                             f"{out['max_abs_diff_repeat']:.3g} of repeating the same run")
    out["note"] = "not bitwise: non-deterministic kernels; the resume adds no difference beyond a repeat's"
    return out


def _peak_memory_reset() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_memory_mib() -> dict:
    if torch.cuda.is_available():
        return {"peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
    return {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


# -- the checks ----------------------------------------------------------------------------
def q_config(p: dict, labels: Path, steps: int, **over):
    from quality.config import TrainConfig
    from quality.model import QualityConfig

    cfg = TrainConfig(labels=str(labels), loss="hinge", batch_size=p["batch"], max_steps=steps, lr=2e-4,
                      warmup_steps=min(20, steps // 4), model=QualityConfig(image_size=p["size"], **p["q_model"]),
                      log_every=p["log_every"], eval_every=steps, checkpoint_every=steps, amp="bf16",
                      num_workers=p["workers"], seed=0)
    for k, v in over.items():
        setattr(cfg, k, v)
    return cfg


def legan_config(p: dict, manifest: Path, q_ckpt: Path, iterations: int, identity_weights, **over):
    from legan.arch import ModelConfig
    from legan.config import TrainConfig
    from legan.loss import LossConfig

    cfg = TrainConfig(manifest=str(manifest), expressions=EXPRESSIONS, lightings=LIGHTINGS, image_size=p["size"],
                      model=ModelConfig(arch="legan", **p["legan_model"]),
                      loss=LossConfig(quality_input_size=p["size"]), q_checkpoint=str(q_ckpt), identity="dlib",
                      identity_weights=identity_weights, batch_size=p["batch"], max_iterations=iterations,
                      n_critic=p["n_critic"], amp=True, amp_dtype="bf16", num_workers=p["workers"], log_every=p["log_every"],
                      sample_every=iterations, checkpoint_every=iterations, keep_checkpoints=0, sample_count=4,
                      progress=False, seed=0)
    for k, v in over.items():
        setattr(cfg, k, v)
    return cfg


def identity_network(weights):
    """(T, description): the dlib ResNet with its real weights when they can be found, else the
    same architecture randomly initialised (same cost; the report says which)."""
    from legan.identity import get_identity_network
    from legan.identity.dlib_resnet import DlibFaceResNet
    from legan.identity.network import IdentityNetwork
    from legan.loss import freeze

    try:
        return freeze(get_identity_network("dlib", weights_path=weights)), "dlib (real weights)"
    except (FileNotFoundError, OSError, ValueError) as exc:
        torch.manual_seed(0)
        backbone = DlibFaceResNet()
        net = IdentityNetwork(backbone, name="dlib", input_size=backbone.config.input_size, grey=False,
                              pixel_scale=255.0, embedding_dim=backbone.config.descriptor_dim)
        return freeze(net), f"dlib architecture, RANDOM weights (no weights file: {exc})"


def run_cuda_tests(out: Path) -> dict:
    junit = out / "cuda-tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "tests/gpu", "-q", "-rs", "-p", "no:django",
           "-p", "no:cacheprovider", f"--junitxml={junit}", "-o", "addopts="]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if not junit.exists():
        raise RuntimeError(f"pytest did not run (is it installed? pip install -r requirements-gpu.txt): "
                           f"{(proc.stdout + proc.stderr)[-1500:]}")
    import xml.etree.ElementTree as ET

    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    result = {**counts, "output_tail": proc.stdout[-1500:]}
    if counts["failures"] or counts["errors"] or proc.returncode not in (0, 5):
        raise AssertionError(f"CUDA tests failed: {counts}\n{proc.stdout[-2000:]}")
    if torch.cuda.is_available() and counts["skipped"] >= counts["tests"]:
        raise AssertionError("every CUDA test was skipped on a CUDA machine")
    return result


def run_bench(p: dict, out: Path, identity_weights) -> dict:
    path = out / "bench.json"
    cmd = [sys.executable, str(ROOT / "bench" / "bench_legan.py"), "--size", str(p["size"]), "--json", str(path),
           "--out", str(out / "bench"), *p["bench"]]
    if identity_weights and "--identity" not in p["bench"]:
        cmd += ["--identity-weights", str(identity_weights)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not path.exists():
        raise RuntimeError(f"bench_legan failed: {(proc.stdout + proc.stderr)[-2000:]}")
    print(proc.stdout, file=sys.stderr)
    return json.loads(path.read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for report.json, sample-grid.png and the work files")
    ap.add_argument("--identity-weights", default=None,
                    help="dlib_face_recognition_resnet_model_v1.dat (about 22 MB; default: the "
                         "face-recognition-models package or $LEGAN_DLIB_RECOGNITION_WEIGHTS when present)")
    ap.add_argument("--cpu-small", action="store_true", help="tiny sizes (automatic without CUDA)")
    ap.add_argument("--skip", default="", help="comma-separated checks to leave out (cuda_tests, bench)")
    args = ap.parse_args(argv)

    if args.identity_weights and not Path(args.identity_weights).is_file():
        print(f"error: --identity-weights {args.identity_weights}: no such file", file=sys.stderr)
        return 2
    preset = "cpu-small" if (args.cpu_small or not torch.cuda.is_available()) else "gpu"
    p = PRESETS[preset]
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    report = Report(out, preset)
    env = environment()
    print(f"[gpu-check] preset {preset} on {env.get('device', 'cpu')}, torch {env['torch']}", file=sys.stderr)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if preset == "cpu-small":
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 leftovers (T, Q, GP) on tensor cores
        torch.backends.cudnn.allow_tf32 = True

    with report.check("imports") as c:
        import legan.train  # noqa: F401
        import quality.train  # noqa: F401
        c["modules"] = ["legan.train", "quality.train"]
    if report.checks["imports"]["status"] == "failed":
        report.checks["imports"]["hint"] = "pip install -r requirements-gpu.txt"
        print(f"report: {report.write({'environment': env})}")
        return 1

    from legan.train import train as train_legan
    from quality.train import train as train_q
    from runkit.loop import TrainingStopped
    from runkit.runs import read_stats

    LeganStopped = QStopped = TrainingStopped

    if "cuda_tests" not in skip:
        with report.check("cuda_tests") as c:
            c.update(run_cuda_tests(out))
            if not torch.cuda.is_available():
                c["note"] = "no CUDA device: the CUDA tests were collected and skipped"

    with report.check("data") as c:
        labels, manifest = make_dataset(work / "data", p["n_images"], p["size"])
        c.update(images=p["n_images"], size=p["size"])

    q_ckpt = None
    with report.check("q_train") as c:
        t0 = time.perf_counter()
        result = train_q(q_config(p, labels, p["q_iters"]), run_dir=work / "q")
        c["wall_s"] = round(time.perf_counter() - t0, 2)
        stats = [json.loads(x) for x in (work / "q" / "stats.jsonl").read_text().splitlines() if x.strip()]
        c["last_losses"] = _finite_losses(stats, "Loss/Q/")
        rates = [r["Timing/images_per_s"] for r in stats if "Timing/images_per_s" in r][1:] or \
                [r["Timing/images_per_s"] for r in stats if "Timing/images_per_s" in r]
        c.update(steps=p["q_iters"], batch=p["batch"], amp=json.loads((work / "q" / "config.json").read_text())["amp"],
                 images_per_s=round(float(np.median(rates)), 1))
        q_ckpt = result.checkpoint_path
        report.figures["q_images_per_s"] = c["images_per_s"]
        report.figures["q_paper_minutes_estimate"] = round(Q_PAPER_IMAGES * 0.8 * Q_EPOCHS / c["images_per_s"] / 60, 1)
        report.figures["q_paper_estimate_basis"] = (f"{Q_PAPER_IMAGES} images x 0.8 (training split) x {Q_EPOCHS} epochs "
                                                    f"(quality.config default) at the measured images/s, batch {p['batch']}")

    with report.check("q_resume_exact") as c:
        from quality.checkpoint import load_checkpoint as load_q

        k = p["resume_iters"]

        def q_run(name: str, stop=None, resume=False):
            with contextlib.suppress(QStopped):
                return train_q(q_config(p, labels, 2 * k), run_dir=work / name, should_stop=stop, resume=resume)

        with deterministic() as caught:
            straight = q_run("q-straight")
            q_run("q-cut", stop=_stopper(k, True))
            resumed = q_run("q-cut", resume=True)
            c.update(steps=2 * k, stopped_at=k, **resume_verdict(
                load_q(straight.checkpoint_path)["model"], load_q(resumed.checkpoint_path)["model"],
                lambda: load_q(q_run("q-repeat").checkpoint_path)["model"], caught))

    T, t_desc = identity_network(args.identity_weights)
    report.figures["identity_network"] = t_desc
    with report.check("legan_train") as c:
        if q_ckpt is None:
            raise RuntimeError("no Q checkpoint (q_train failed)")
        cfg = legan_config(p, manifest, q_ckpt, p["legan_iters"], args.identity_weights)
        _peak_memory_reset()
        t0 = time.perf_counter()
        result = train_legan(cfg, run_dir=work / "legan", identity_net=T)
        c["wall_s"] = round(time.perf_counter() - t0, 2)
        stats = read_stats(work / "legan" / "stats.jsonl")
        c["last_losses"] = _finite_losses(stats, "Loss/")
        # the first log interval holds the warm-up (cuDNN autotuning, allocator): leave it out
        timed = [r["sec_per_iter"] for r in stats[1:]] or [r["sec_per_iter"] for r in stats]
        sec = float(np.median(timed))
        c.update(iterations=p["legan_iters"], batch=p["batch"], size=p["size"], amp="bf16" if env["cuda_available"] else "off (CPU)",
                 identity_network=t_desc, d_iters_per_s=round(1 / sec, 3), **_peak_memory_mib())
        grids = sorted((work / "legan" / "samples").glob("iter-*.png"))
        if not grids:
            raise AssertionError("no sample grid was written")
        shutil.copy(grids[-1], out / "sample-grid.png")
        report.figures.update(legan_d_iters_per_s=c["d_iters_per_s"],
                              legan_paper_hours_estimate=round(PAPER_LEGAN_ITERATIONS * sec / 3600, 2),
                              legan_paper_estimate_basis="33,305 images / batch 10 x 100 epochs = 333,050 D-iterations "
                                                         "(a G step every 5th) at the measured D-iterations/s",
                              **{f"legan_{k}": v for k, v in _peak_memory_mib().items()})
        if "RANDOM" in t_desc and torch.cuda.is_available():
            c["warning"] = "T ran with random weights: pass --identity-weights for the real network"

    with report.check("legan_resume_exact") as c:
        if q_ckpt is None:
            raise RuntimeError("no Q checkpoint (q_train failed)")
        from legan.checkpoint import load_checkpoint

        k = p["resume_iters"]
        cfg = legan_config(p, manifest, q_ckpt, 2 * k, args.identity_weights, log_every=k)

        def legan_run(name: str, stop=None, resume=False):
            with contextlib.suppress(LeganStopped):
                return train_legan(cfg, run_dir=work / name, identity_net=T, should_stop=stop, resume=resume)

        def weights(result) -> dict:
            payload = load_checkpoint(result.checkpoint_path)
            return {**{f"G.{n}": v for n, v in payload["G"].items()}, **{f"D.{n}": v for n, v in payload["D"].items()}}

        with deterministic() as caught:
            straight = legan_run("legan-straight")
            legan_run("legan-cut", stop=_stopper(k, False))
            resumed = legan_run("legan-cut", resume=True)
            c.update(iterations=2 * k, stopped_at=k, **resume_verdict(
                weights(straight), weights(resumed), lambda: weights(legan_run("legan-repeat")), caught))

    if "bench" not in skip:
        with report.check("bench_legan") as c:
            bench = run_bench(p, out, args.identity_weights)
            c["results"] = bench["results"]
            c["comparisons"] = bench["comparisons"]
            legan = next((r for r in bench["results"] if r["arch"] == "legan"), None)
            if legan is not None:
                report.figures.update(bench_legan_achieved_tflops=round(legan["achieved_tflops"], 3),
                                      bench_fraction_of_bf16_peak=legan.get("fraction_of_bf16_peak"),
                                      bench_legan_d_iters_per_s=round(legan["D_iters_per_s"], 3))
                # the training run's rate in FLOP/s: one D step per iteration, a G step every 5th
                if "legan_d_iters_per_s" in report.figures:
                    per_iter = (legan["gflop_per_D_step"] + legan["gflop_per_G_step"] / 5) * 1e9
                    report.figures["legan_training_tflops"] = round(
                        per_iter * report.figures["legan_d_iters_per_s"] / 1e12, 3)
            if bench["comparisons"]:
                report.figures["per_flop_rate_ratio_legan_vs_stargan"] = round(
                    bench["comparisons"][0]["per_flop_rate_ratio"], 3)

    wall_min = (time.perf_counter() - report.t0) / 60
    report.figures["total_minutes"] = round(wall_min, 2)
    if preset == "gpu":
        report.figures["goals"] = {
            "legan_paper_under_2_hours": (report.figures.get("legan_paper_hours_estimate") or math.inf) < GOALS["legan_paper_hours"],
            "q_paper_under_10_minutes": (report.figures.get("q_paper_minutes_estimate") or math.inf) < GOALS["q_paper_minutes"],
            "check_under_8_minutes": wall_min < GOALS["total_minutes"]}
    env["django_imported"] = "django" in sys.modules  # the check must not need the platform
    path = report.write({"environment": env, "preset_settings": p})
    print(json.dumps({"ok": report.ok, "report": str(path), "figures": report.figures}, indent=2, default=str))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
