"""Training-step benchmark: LEGAN against the StarGAN baseline in the same run.

For each architecture (and, on CUDA, mixed precision on and off) a fresh subprocess builds
G, D, their Adam optimizers, the frozen quality net Q and identity net T, and the loss object,
then measures on a synthetic batch (batch 10, 128x128, 6 expressions x 20 lightings):
  - D-iterations/s and G-iterations/s (optimizer step included),
  - FLOPs of one D step and one G step (torch.utils.flop_counter.FlopCounterMode: forward,
    backward and the gradient penalty's double backward; that counted step is also the warm-up),
  - peak memory: CUDA max_memory_allocated, or on CPU the growth of the process's peak RSS
    (ru_maxrss) over the steps (each configuration runs in its own process so peaks don't mix),
  - projected time for the paper's 100 epochs of 33,305 images at batch 10, two ways:
      brief  : 33,305 / 10 x 100 x (t_G + 5 t_D)  (every batch a G step with its 5 D steps)
      trainer: 33,305 / 10 x 100 x (t_D + t_G / 5) (legan.train: one D step per batch, G every 5th)

  - achieved TFLOP/s, and on a GPU the fraction of the device's dense bf16 peak,
  - LEGAN's per-FLOP rate against StarGAN's (achieved FLOP/s ratio; goal >= 1.0: LEGAN's extra
    FLOPs should not run less efficiently than StarGAN's).

    python bench/bench_legan.py --iters 0 --size 64             # CPU: one step per phase
    python bench/bench_legan.py --iters 20 --amp both          # GPU
    python bench/bench_legan.py --iters 20 --amp on --compile  # does torch.compile(G) pay?
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAPER_IMAGES, PAPER_EPOCHS, N_CRITIC = 33_305, 100, 5
# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, TFLOP/s.
BF16_PEAK_TFLOPS = {"H200": 989.4, "H100 SXM": 989.4, "H100 PCIe": 756.0, "H100": 989.4, "GH200": 989.4,
                    "A100": 312.0, "L40S": 362.1, "L4": 121.0, "A10": 125.0, "RTX 4090": 165.2}


def bf16_peak_tflops(device_name: str):
    """The data-sheet peak for a CUDA device name, or None when unknown."""
    for key in sorted(BF16_PEAK_TFLOPS, key=len, reverse=True):  # "H100 PCIe" before "H100"
        if key.lower() in device_name.lower():
            return BF16_PEAK_TFLOPS[key]
    return None
EXPRESSIONS = [f"e{i}" for i in range(6)]  # MultiPIE: 6 expressions, 20 lighting conditions
LIGHTINGS = [f"l{i:02d}" for i in range(20)]


# -- worker (one configuration, in its own process) ----------------------------------------
def _ellipse_masks(b: int, s: int):
    import torch

    yy, xx = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    m = (((yy - s / 2) / (0.45 * s)) ** 2 + ((xx - s / 2) / (0.38 * s)) ** 2 <= 1).float()
    return m[None, None].expand(b, 1, s, s).contiguous()


def _identity_network(name: str, weights=None):
    if name == "none":
        return None, "none"
    try:
        from legan.identity import get_identity_network

        return get_identity_network(name, weights_path=weights), name
    except Exception as exc:  # weights or package missing: measure without T, say so
        return None, f"unavailable ({type(exc).__name__}: {exc})"


def run_worker(spec: dict) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from legan import build
    from legan.arch import ModelConfig
    from legan.config import TrainConfig
    from legan.loss import LeganLoss, LossConfig
    from legan.networks import count_parameters
    from quality.model import QualityConfig, QualityNet

    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    cfg = TrainConfig(expressions=EXPRESSIONS, lightings=LIGHTINGS, image_size=spec["size"],
                      model=(ModelConfig(arch=spec["arch"], g_channels=8, g_res_blocks=1, d_channels=8, d_layers=3)
                             if spec.get("tiny") else ModelConfig(arch=spec["arch"])), batch_size=spec["batch"], amp=spec["amp"],
                      compile=spec.get("compile", False))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    G, D = build.build_networks(cfg, device)
    opt_G, opt_D = build.build_optimizers(cfg, G, D)
    autocast_dtype, scalers = build.build_amp(cfg, device)
    T, t_name = _identity_network(spec["identity"], spec.get("identity_weights"))
    Q = QualityNet(QualityConfig())  # architecture cost only: weights do not change the timing
    G = build.compile_generator(G, cfg)
    loss = LeganLoss(G, D, n_expressions=len(EXPRESSIONS),
                     config=LossConfig(lambda_id=10.0 if T is not None else 0.0),
                     identity_net=T.to(device) if T is not None else None, quality_net=Q.to(device),
                     autocast_dtype=autocast_dtype, scalers=scalers)
    b, s = spec["batch"], spec["size"]
    g = torch.Generator().manual_seed(0)
    raw = {"image": torch.rand(b, 3, s, s, generator=g) * 2 - 1, "mask": _ellipse_masks(b, s),
           "expression": torch.randint(len(EXPRESSIONS), (b,), generator=g),
           "lighting": torch.randint(len(LIGHTINGS), (b,), generator=g)}
    batch = build.prepare_batch(raw, device, g, len(EXPRESSIONS), len(LIGHTINGS),
                                channels_last=build.uses_channels_last(cfg, device))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step(phase: str):
        opt, net = (opt_D, D) if phase == "D" else (opt_G, G)
        opt.zero_grad(set_to_none=True)
        loss.accumulate_gradients(phase, batch)
        build.optimizer_step(opt, scalers.get(phase))

    rss_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    flops, seconds = {}, {}
    for phase in ("D", "G"):  # counted step = warm-up (allocations, cuDNN autotuning)
        if spec.get("compile"):  # compile outside the counter (its tracing would be counted)
            step(phase)
        t0 = time.perf_counter()
        with FlopCounterMode(display=False) as counter:
            step(phase)
        sync()
        flops[phase] = counter.get_total_flops()
        seconds[phase] = time.perf_counter() - t0  # used only when iters == 0
    for phase in ("D", "G") if spec["iters"] > 0 else ():
        t0 = time.perf_counter()
        for _ in range(spec["iters"]):
            step(phase)
        sync()
        seconds[phase] = (time.perf_counter() - t0) / spec["iters"]
    if device.type == "cuda":
        peak = {"peak_gpu_mib": torch.cuda.max_memory_allocated(device) / 2**20,
                "device_name": torch.cuda.get_device_name(device)}
    else:
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before_kb
        peak = {"peak_rss_growth_mib": grown / 1024}
    return {"arch": spec["arch"], "amp": autocast_dtype is not None,
            "amp_dtype": str(autocast_dtype).replace("torch.", "") if autocast_dtype else None,
            "identity": t_name, "G_params": count_parameters(G), "D_params": count_parameters(D),
            "sec_per_D_step": seconds["D"], "sec_per_G_step": seconds["G"],
            "D_iters_per_s": 1 / seconds["D"], "G_iters_per_s": 1 / seconds["G"],
            "gflop_per_D_step": flops["D"] / 1e9, "gflop_per_G_step": flops["G"] / 1e9,
            # FLOPs over time of a D step and a G step together: the rate of the mix being timed
            "achieved_tflops": (flops["D"] + flops["G"]) / (seconds["D"] + seconds["G"]) / 1e12,
            "compile": bool(spec.get("compile")), **peak}


# -- driver --------------------------------------------------------------------------------
def projections(r: dict) -> dict:
    batches = PAPER_IMAGES / 10 * PAPER_EPOCHS
    t_d, t_g = r["sec_per_D_step"], r["sec_per_G_step"]
    return {"brief_hours": batches * (t_g + N_CRITIC * t_d) / 3600,
            "trainer_hours": batches * (t_d + t_g / N_CRITIC) / 3600}


def comparisons(results: list) -> list:
    """LEGAN against StarGAN per precision: time, FLOP and per-FLOP rate ratios, and the goal's
    D-iteration rate (StarGAN's divided by the FLOP ratio)."""
    by = {(r["arch"], r["amp"]): r for r in results}
    out = []
    for amp in sorted({r["amp"] for r in results}):
        if ("legan", amp) not in by or ("stargan", amp) not in by:
            continue
        a, b = by[("legan", amp)], by[("stargan", amp)]
        flop_ratio_d = a["gflop_per_D_step"] / b["gflop_per_D_step"]
        out.append({"amp": amp, "G_step_time_ratio": a["sec_per_G_step"] / b["sec_per_G_step"],
                    "D_step_time_ratio": a["sec_per_D_step"] / b["sec_per_D_step"],
                    "G_flop_ratio": a["gflop_per_G_step"] / b["gflop_per_G_step"], "D_flop_ratio": flop_ratio_d,
                    "per_flop_rate_ratio": a["achieved_tflops"] / b["achieved_tflops"],
                    "goal_D_iters_per_s": b["D_iters_per_s"] / flop_ratio_d,
                    "legan_D_iters_per_s": a["D_iters_per_s"],
                    "meets_goal": a["achieved_tflops"] >= b["achieved_tflops"]
                    and a["D_iters_per_s"] >= b["D_iters_per_s"] / flop_ratio_d})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=3,
                   help="timed steps per phase after the FLOP-counted warm-up step; 0 times that step "
                        "itself (slow CPUs: counting overhead is small next to 128x128 convolutions)")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--archs", default="legan,stargan")
    p.add_argument("--amp", choices=("both", "on", "off"), default="both", help="CUDA only; CPU runs fp32")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--identity", default="dlib", help="dlib | lightcnn29 | none")
    p.add_argument("--identity-weights", default=None, help="T's weights file (default: the network's own default)")
    p.add_argument("--compile", action="store_true", help="torch.compile the generator (legan.train --compile)")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--tiny-nets", action="store_true",
                   help="narrow, shallow G and D (smoke runs on a CPU, e.g. scripts/gpu-check --cpu-small)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(run_worker(json.loads(args.worker))))
        return 0

    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    amps = [False] if device == "cpu" else {"both": [True, False], "on": [True], "off": [False]}[args.amp]
    results = []
    for arch in args.archs.split(","):
        for amp in amps:
            spec = {"arch": arch, "amp": amp, "device": device, "batch": args.batch, "size": args.size,
                    "iters": args.iters, "threads": args.threads, "identity": args.identity,
                    "identity_weights": args.identity_weights, "compile": args.compile, "tiny": args.tiny_nets}
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], cwd=ROOT,
                                  capture_output=True, text=True)
            line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                print(f"{arch} amp={amp}: FAILED\n{proc.stderr[-3000:]}", file=sys.stderr)
                return 1
            r = json.loads(line[len("RESULT "):])
            r.update(projections(r), wall_s=time.perf_counter() - t0)
            results.append(r)
            print(f"done {arch} amp={amp} in {r['wall_s']:.0f}s", file=sys.stderr)

    mem_key = "peak_gpu_mib" if device != "cpu" else "peak_rss_growth_mib"
    device_name = torch.cuda.get_device_name() if device != "cpu" else (platform.processor() or "cpu")
    peak_tflops = bf16_peak_tflops(device_name) if device != "cpu" else None
    for r in results:
        r["fraction_of_bf16_peak"] = r["achieved_tflops"] / peak_tflops if peak_tflops else None
    print(f"\ndevice={device} ({device_name}), threads={args.threads}, batch={args.batch}, size={args.size}, "
          f"timed iters/phase={args.iters}, torch {torch.__version__}, T={results[0]['identity']}, "
          f"compile={args.compile}, bf16 peak={peak_tflops or 'n/a'} TFLOP/s")
    header = f"{'arch':8} {'amp':5} {'D it/s':>8} {'G it/s':>8} {'GFLOP/D':>9} {'GFLOP/G':>9} {'TFLOP/s':>8} " \
             f"{'of peak':>8} {mem_key:>20} {'100ep brief h':>14} {'100ep trainer h':>16}"
    print(header)
    for r in results:
        frac = f"{100 * r['fraction_of_bf16_peak']:7.1f}%" if r["fraction_of_bf16_peak"] is not None else f"{'n/a':>8}"
        print(f"{r['arch']:8} {str(r['amp_dtype'] or 'fp32'):5} {r['D_iters_per_s']:8.3f} {r['G_iters_per_s']:8.3f} "
              f"{r['gflop_per_D_step']:9.2f} {r['gflop_per_G_step']:9.2f} {r['achieved_tflops']:8.3f} {frac} "
              f"{r[mem_key]:20.0f} {r['brief_hours']:14.2f} {r['trainer_hours']:16.2f}")
    compared = comparisons(results)
    for c in compared:
        print(f"LEGAN / StarGAN (amp={c['amp']}): G-step time x{c['G_step_time_ratio']:.2f}, "
              f"D-step time x{c['D_step_time_ratio']:.2f}, FLOPs G x{c['G_flop_ratio']:.2f} D x{c['D_flop_ratio']:.2f}, "
              f"per-FLOP rate x{c['per_flop_rate_ratio']:.2f} (goal >= 1.0); D it/s {c['legan_D_iters_per_s']:.2f} "
              f"vs goal {c['goal_D_iters_per_s']:.2f} -> {'meets' if c['meets_goal'] else 'MISSES'} the goal")
    report = {"args": vars(args), "device": device, "device_name": device_name, "torch": torch.__version__,
              "bf16_peak_tflops": peak_tflops, "results": results, "comparisons": compared}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"legan-{device}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
