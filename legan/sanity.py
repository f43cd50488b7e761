"""Can a generator architecture reproduce its input at all? A check before trusting any table.

A generator asked for the attributes its input already has should return the input. Trained
on that alone (L1 between G(x, f_a) and x, no adversary), a sound architecture reaches a high
SSIM on held-out images within a few hundred steps; one that cannot (a broken conditioning
path, a bottleneck that drops the image, a mask activation that saturates) shows it here in
minutes instead of after a day of GAN training.

    python -m legan.sanity --manifest train.csv --heldout test.csv --expressions a,b --lightings x,y \
        --arch legan --image-size 32 --steps 300
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from legan.arch import ModelConfig, build_generator
from legan.labels import class_names
from legan.validation import ssim_per_image


@dataclass
class SanityResult:
    arch: str
    steps: int
    final_l1: float
    heldout_ssim: float


def fit_reconstruction(G: torch.nn.Module, loader, steps: int, lr: float = 1e-3,
                       device: str | torch.device = "cpu") -> float:
    """Adam on L1(G(x, f_a), x) for `steps` batches; returns the last batch's L1."""
    G.train().to(device)
    optimizer = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    step, last = 0, float("nan")
    while step < steps:
        for batch in loader:
            x = batch["image"].to(device)
            out = G(x, torch.as_tensor(batch["expression"]).to(device), torch.as_tensor(batch["lighting"]).to(device))
            loss = (out.image - x).abs().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step, last = step + 1, float(loss.detach())
            if step >= steps:
                break
    return last


@torch.no_grad()
def heldout_ssim(G: torch.nn.Module, dataset, device: str | torch.device = "cpu", count: int = 64) -> float:
    G.eval()
    idx = np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int)
    items = [dataset[int(i)] for i in idx]
    x = torch.stack([it["image"] for it in items]).to(device)
    e = torch.tensor([it["expression"] for it in items], device=device)
    l = torch.tensor([it["lighting"] for it in items], device=device)
    return float(ssim_per_image(G(x, e, l).image.cpu(), x.cpu()).mean())


def check_reconstruction(model: ModelConfig, train_set, heldout_set, n_expressions: int, n_lightings: int, *,
                         steps: int = 300, batch_size: int = 10, lr: float = 1e-3, seed: int = 0,
                         device: str | torch.device = "cpu") -> SanityResult:
    torch.manual_seed(seed)
    G = build_generator(model, n_expressions, n_lightings)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(seed))
    last = fit_reconstruction(G, loader, steps, lr, device)
    return SanityResult(model.arch, steps, last, heldout_ssim(G, heldout_set, device))


def main(argv: Optional[list[str]] = None) -> int:
    from legan.data.dataset import LeganDataset

    p = argparse.ArgumentParser(prog="python -m legan.sanity", description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", required=True)
    p.add_argument("--heldout", required=True, help="a manifest of other subjects")
    p.add_argument("--expressions", required=True)
    p.add_argument("--lightings", required=True)
    p.add_argument("--arch", default="legan")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--g-channels", type=int, default=64)
    p.add_argument("--g-res-blocks", type=int, default=None)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    expressions, lightings = class_names(args.expressions), class_names(args.lightings)
    train_set = LeganDataset(args.manifest, expressions, lightings, image_size=args.image_size)
    heldout = LeganDataset(args.heldout, expressions, lightings, image_size=args.image_size)
    model = ModelConfig(arch=args.arch, g_channels=args.g_channels, g_res_blocks=args.g_res_blocks)
    result = check_reconstruction(model, train_set, heldout, len(expressions), len(lightings), steps=args.steps,
                                  lr=args.lr, device=args.device)
    print(f"{result.arch}: L1 {result.final_l1:.4f} after {result.steps} steps, held-out SSIM {result.heldout_ssim:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
