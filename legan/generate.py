"""Synthesis command line.

Translate aligned face images to one target, or to every (expression, lighting) combination:
    python -m legan.generate translate --checkpoint run/checkpoints/checkpoint-00100000.pt \
        --images faces/ --expression smile --lighting bright --out out/
    python -m legan.generate translate --checkpoint C --images a.png --all --out out/ [--masks]
Balance a labelled set's classes with synthetic variants (images + extended manifest):
    python -m legan.generate augment --checkpoint C --manifest train.csv --balance expression --out aug/

Inputs are expected to be aligned faces like the training data (centre-cropped to a square and
resized to the model's size). Outputs: <name>__<expression>__<lighting>.png, with --all also
<name>__grid.png (rows: expressions, columns: lightings); --masks adds M_e / M_l heat maps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from legan.checkpoint import load_generator
from legan.synthesis import (SynthesisError, augment_manifest, class_index, collect_image_paths,
                             combination_grid, load_face_tensor, save_heatmap, save_image, translate)
from runkit.device import select_device


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m legan.generate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("translate", help="translate images to target expression / lighting")
    t.add_argument("--checkpoint", required=True)
    t.add_argument("--images", nargs="+", required=True, help="image files and/or folders")
    t.add_argument("--expression", help="target expression name")
    t.add_argument("--lighting", help="target lighting name")
    t.add_argument("--all", action="store_true", help="every (expression, lighting) combination")
    t.add_argument("--masks", action="store_true", help="also write M_e / M_l heat maps (LEGAN)")
    t.add_argument("--out", required=True)
    t.add_argument("--device", default="auto")
    a = sub.add_parser("augment", help="balance a manifest's classes with synthetic images")
    a.add_argument("--checkpoint", required=True)
    a.add_argument("--manifest", required=True)
    a.add_argument("--balance", choices=("expression", "lighting"), default="expression")
    a.add_argument("--target-count", type=int, default=None, help="images per class (default: largest class)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--out", required=True)
    a.add_argument("--device", default="auto")
    return p


def run_translate(args, G, config) -> list[str]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    exprs, lights = config.expressions, config.lightings
    if args.all:
        targets = [(e, l) for e in range(len(exprs)) for l in range(len(lights))]
    else:
        if not (args.expression and args.lighting):
            raise SynthesisError("give --expression and --lighting, or --all")
        targets = [(class_index(exprs, args.expression, "expression"), class_index(lights, args.lighting, "lighting"))]
    written = []
    for path in collect_image_paths(args.images):
        x = load_face_tensor(path, config.image_size)[None].expand(len(targets), -1, -1, -1)
        e = torch.tensor([t[0] for t in targets])
        l = torch.tensor([t[1] for t in targets])
        result = translate(G, x, e, l)
        for j, (ei, li) in enumerate(targets):
            stem = f"{path.stem}__{exprs[ei]}__{lights[li]}"
            written.append(str(save_image(result.images[j], out / f"{stem}.png")))
            if args.masks and result.expression_masks is not None:
                written.append(str(save_heatmap(result.expression_masks[j], out / f"{stem}__M_e.png")))
                written.append(str(save_heatmap(result.lighting_masks[j], out / f"{stem}__M_l.png")))
        if args.all:
            grid_path = out / f"{path.stem}__grid.png"
            combination_grid(result.images, len(exprs), len(lights)).save(grid_path)
            written.append(str(grid_path))
    return written


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not Path(args.checkpoint).is_file():
            raise SynthesisError(f"checkpoint not found: {args.checkpoint}")
        G, config = load_generator(Path(args.checkpoint))
        G = G.to(select_device(args.device))
        if args.command == "translate":
            written = run_translate(args, G, config)
            print(json.dumps({"written": len(written), "out": args.out}))
        else:
            path = augment_manifest(G, config.expressions, config.lightings, config.image_size, Path(args.manifest),
                                    Path(args.out), args.balance, args.seed, args.target_count)
            print(json.dumps({"manifest": str(path)}))
    except (SynthesisError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
