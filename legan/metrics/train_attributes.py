"""Command line: train the attribute classifier (legan.metrics.attributes) and print its accuracy.

    python -m legan.metrics.train_attributes --manifest TRAIN.csv --test-manifest TEST.csv --out attr.pt
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

from legan.data.manifest import classes_of
from legan.labels import class_names
from legan.metrics.attributes import load_attribute_classifier, train_attribute_classifier
from runkit.device import select_device


def main(argv: Sequence[str] | None = None) -> None:
    """python -m legan.metrics.train_attributes --manifest TRAIN.csv --test-manifest TEST.csv --out attr.pt"""
    parser = argparse.ArgumentParser(description="Train the attribute classifier on real training-split images.")
    parser.add_argument("--manifest", required=True, help="training split manifest (real images only)")
    parser.add_argument("--test-manifest", help="held-out split: its accuracy is stored in the checkpoint")
    parser.add_argument("--expressions", help="comma-separated, in the generator's order (default: the manifest's, sorted)")
    parser.add_argument("--lightings", help="comma-separated, in the generator's order (default: the manifest's, sorted)")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda:N")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    expressions, lightings = classes_of([args.manifest])
    expressions = class_names(args.expressions) if args.expressions else expressions
    lightings = class_names(args.lightings) if args.lightings else lightings
    path = train_attribute_classifier(args.manifest, expressions, lightings, args.size, args.out, args.iterations,
                                      args.seed, str(select_device(args.device)), test_manifest=args.test_manifest)
    _, meta = load_attribute_classifier(path)
    print(json.dumps({k: meta[k] for k in ("expressions", "lightings", "train_accuracy", "test_accuracy",
                                           "train_seconds")}, indent=2))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
