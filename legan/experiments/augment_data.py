"""Data for the augmentation experiment: the cached manifests of `legan.data.build_manifests`
(subject-disjoint train / test splits) loaded as tensors, the combined manifest a generator is
trained on (training splits only: no test subject is ever seen by the generator), the data
hash, and the synthetic copies made with a generator through `legan.synthesis`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F

from legan.data.dataset import LeganDataset
from legan.data.manifest import read_manifest, resolve_path
from legan.synthesis import translate

EXPRESSION_SETS = ("jaffe", "ckplus48")  # expression recognition (one lighting)
VERIFICATION_SET = "yale_b"  # face verification under lighting changes (one expression)
SPLITS = ("train", "test")

MSG_MISSING_SPLIT = ("{path} not found: build the cached manifests first, e.g. python -m "
                     "legan.data.build_manifests --out {root} --datasets yale_b jaffe ckplus48")
MSG_GENERATOR_CLASSES = ("the generator knows none of the task's {what} classes {wanted}; it knows {known}")


@dataclass
class FaceSet:
    images: torch.Tensor  # (N, 3, S, S) in [-1, 1]
    expression: torch.Tensor  # (N,) index into expressions
    lighting: torch.Tensor  # (N,) index into lightings
    subject: list[str]
    expressions: list[str]
    lightings: list[str]

    def __len__(self) -> int:
        return len(self.subject)


def split_path(data_root: Path, dataset: str, split: str) -> Path:
    path = Path(data_root) / dataset / f"manifest_{split}.csv"
    if not path.is_file():
        raise FileNotFoundError(MSG_MISSING_SPLIT.format(path=path, root=data_root))
    return path


def load_face_set(manifests: Sequence[Path], expressions: Sequence[str], lightings: Sequence[str],
                  size: int) -> FaceSet:
    """Every row of the manifests, decoded and resized once (the sets are small)."""
    images, expr, light, subjects = [], [], [], []
    for m in manifests:
        ds = LeganDataset(m, expressions, lightings, image_size=size)
        for i in range(len(ds)):
            item = ds[i]
            images.append(item["image"])
            expr.append(item["expression"])
            light.append(item["lighting"])
            subjects.append(item["subject"])
    return FaceSet(torch.stack(images), torch.tensor(expr), torch.tensor(light), subjects,
                   list(expressions), list(lightings))


def combined_manifest(manifests: Sequence[Path], out: Path) -> Path:
    """One manifest (absolute paths) holding the rows of several, for training a generator."""
    frames = []
    for m in manifests:
        frame = read_manifest(m)
        for column in ("image_path", "mask_path"):
            if column in frame.columns:
                frame[column] = [str(resolve_path(Path(m).parent, v).resolve()) if v else "" for v in frame[column]]
        frames.append(frame[[c for c in ("image_path", "subject", "expression", "lighting", "mask_path")
                             if c in frame.columns]])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(frames, ignore_index=True).to_csv(out, index=False)
    return out


def data_hash(manifests: Sequence[Path]) -> str:
    """sha256 over every manifest and every image file it names, in order."""
    h = hashlib.sha256()
    for m in manifests:
        m = Path(m)
        h.update(m.read_bytes())
        for value in read_manifest(m, check_files=False)["image_path"]:
            h.update(resolve_path(m.parent, value).read_bytes())
    return h.hexdigest()


def synthesize(G: torch.nn.Module, g_expressions: Sequence[str], g_lightings: Sequence[str], g_size: int,
               source: FaceSet, *, target_expressions: Sequence[str], change: str, seed: int,
               batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """One synthetic copy of every source image, with a random expression among
    `target_expressions` and a random lighting among the generator's. `change` ("expression" or
    "lighting") is the attribute that must differ from the source's. Returns (images (N, 3, S, S)
    at the source size, target expression names' index into source.expressions (N,))."""
    usable = [e for e in target_expressions if e in g_expressions]
    if not usable:
        raise ValueError(MSG_GENERATOR_CLASSES.format(what="expression", wanted=list(target_expressions),
                                                      known=list(g_expressions)))
    rng = torch.Generator().manual_seed(seed)
    n = len(source)
    src_e = [source.expressions[i] for i in source.expression.tolist()]
    src_l = [source.lightings[i] for i in source.lighting.tolist()]
    t_e, t_l = [], []
    for i in range(n):
        e_choices = [e for e in usable if change != "expression" or e != src_e[i]] or usable
        l_choices = [l for l in g_lightings if change != "lighting" or l != src_l[i]] or list(g_lightings)
        t_e.append(e_choices[int(torch.randint(len(e_choices), (1,), generator=rng))])
        t_l.append(l_choices[int(torch.randint(len(l_choices), (1,), generator=rng))])
    size = source.images.shape[-1]
    x = source.images if size == g_size else F.interpolate(source.images, size=(g_size, g_size), mode="bilinear",
                                                           align_corners=False, antialias=True)
    e_ids = torch.tensor([list(g_expressions).index(e) for e in t_e])
    l_ids = torch.tensor([list(g_lightings).index(l) for l in t_l])
    out = translate(G, x, e_ids, l_ids, batch_size=batch_size).images  # (N, 3, g, g)
    if g_size != size:
        out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    labels = torch.tensor([source.expressions.index(e) if e in source.expressions else -1 for e in t_e])
    return out.clamp(-1, 1), labels
