"""Evaluate trained generators on an evaluation set's pairs (the paper's Table 1 metrics).

    python -m legan.evaluate --checkpoint runs/.../checkpoint-00002000.pt --evalset EVALSET/ \
        --out eval/ [--q-checkpoint q.pt] [--attribute-classifier attr.pt] [--split test]
    python -m legan.evaluate --build-evalset --manifest M --expressions a,b --lightings x,y --out EVALSET/

For every pair (input image, target attributes, real target image of the same subject) the
model's output is compared with the target: SSIM, LPIPS, match score (Pearson of face
descriptors) and FID over the sets, as the paper does; beyond the paper, the share of outputs
verified as the input's identity, the attribute accuracy of an independent classifier, and a
95% bootstrap interval for every figure (clusters = subjects: pairs of one subject are not
independent). Each metric is a named backend: where the paper's network is missing the
offline stand-in is reported under its own name (FD-dlib128, LPIPS-proxy), never as the
original.

Two reference rows come with every evaluation: "real" (the real target images: their quality,
and the match between two real photos of the subject) and "no edit" (the input returned
unchanged), the floor an editing model has to clear.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from legan.data.dataset import image_to_tensor, load_face
from legan.data.manifest import read_manifest, resolve_path
from legan.data.pairs import EvalSet, EvalSetError, build_evalset, load_evalset
from legan.labels import class_names
from legan.translator import MeanFaceTranslator, NoEditTranslator, Translator, TranslatorError, load_translator
from legan.validation import input_dependence, pair_groups, self_match_hits

BOOTSTRAP_SAMPLES = 1000
CONFIDENCE = 0.95
REAL_ROW = "real"
NO_EDIT_ROW = "no edit"

MSG_UNKNOWN_TARGETS = ("the model {model!r} does not know the {what} class(es) {missing} that the "
                       "evaluation pairs ask for; it knows {known}")
MSG_SIZE = "image size {size} must be positive"
MSG_EMPTY_SPLIT = "the evaluation set's {split} split has no pairs"


class EvaluationError(ValueError):
    """Bad input to an evaluation (checkpoint, evaluation set, options), raised before heavy work."""


@dataclass
class PairBatch:
    pairs: pd.DataFrame
    inputs: torch.Tensor  # (N, 3, S, S) in [-1, 1]
    targets: torch.Tensor  # (N, 3, S, S)
    masks: torch.Tensor  # (N, 1, S, S) {0, 1}: the input's face hull (translation keeps alignment)
    target_expression: torch.Tensor  # (N,) ids in the evaluation set's class lists
    target_lighting: torch.Tensor


@dataclass
class ModelScores:
    """Per-pair values of every pair metric, and the set metric's value and bootstrap draws."""

    name: str
    per_pair: dict[str, np.ndarray] = field(default_factory=dict)
    set_values: dict[str, float] = field(default_factory=dict)
    set_draws: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class EvaluationResult:
    table_csv: Path
    table_md: Path
    grid_png: Path
    rows: list[dict]


# -- data --------------------------------------------------------------------------------------
def load_pairs(evalset: EvalSet, split: str, size: int, limit: Optional[int] = None) -> PairBatch:
    if size <= 0:
        raise EvaluationError(MSG_SIZE.format(size=size))
    pairs = evalset.pairs(split)
    if limit is not None:
        pairs = pairs.iloc[:limit]
    if pairs.empty:
        raise EvaluationError(MSG_EMPTY_SPLIT.format(split=split))
    manifest = read_manifest(evalset.manifest(split), check_files=False)
    mask_of = dict(zip(manifest["image_path"], manifest.get("mask_path", [""] * len(manifest))))
    root = evalset.root
    inputs, targets, masks = [], [], []
    for row in pairs.itertuples(index=False):
        mask = mask_of.get(row.input_path, "")
        image, hull = load_face(resolve_path(root, row.input_path), size,
                                resolve_path(root, mask) if mask else None)
        target, _ = load_face(resolve_path(root, row.target_path), size)
        inputs.append(image_to_tensor(image))
        targets.append(image_to_tensor(target))
        masks.append(torch.from_numpy(hull.astype(np.float32))[None])
    e_index = {n: i for i, n in enumerate(evalset.expressions)}
    l_index = {n: i for i, n in enumerate(evalset.lightings)}
    return PairBatch(pairs.reset_index(drop=True), torch.stack(inputs), torch.stack(targets), torch.stack(masks),
                     torch.tensor([e_index[v] for v in pairs["target_expression"]]),
                     torch.tensor([l_index[v] for v in pairs["target_lighting"]]))


def check_translator(translator: Translator, evalset: EvalSet, pairs: pd.DataFrame) -> None:
    """The model must know every class the pairs ask for, under the same names."""
    for what, column, known in (("expression", "target_expression", translator.expressions),
                                ("lighting", "target_lighting", translator.lightings)):
        missing = sorted(set(pairs[column]) - set(known))
        if missing:
            raise EvaluationError(MSG_UNKNOWN_TARGETS.format(model=translator.name, what=what, missing=missing,
                                                             known=list(known)))


def translate_pairs(translator: Translator, batch: PairBatch, evalset: EvalSet,
                    batch_size: int = 32) -> torch.Tensor:
    """Outputs (N, 3, S, S) in [-1, 1] for every pair, class ids mapped to the model's lists."""
    e_map = torch.tensor([list(translator.expressions).index(n) for n in evalset.expressions])
    l_map = torch.tensor([list(translator.lightings).index(n) if n in translator.lightings else 0
                          for n in evalset.lightings])
    outs = []
    for i in range(0, len(batch.inputs), batch_size):
        sl = slice(i, i + batch_size)
        outs.append(translator.translate(batch.inputs[sl], e_map[batch.target_expression[sl]],
                                         l_map[batch.target_lighting[sl]]).clamp(-1, 1))
    return torch.cat(outs)


# -- metrics -----------------------------------------------------------------------------------
class MetricSuite:
    """The metric backends of one evaluation (legan.metrics), each the paper's network where
    present, else its honestly named offline stand-in (the reason goes into the table's notes)."""

    def __init__(self, device: str | torch.device = "cpu", q_checkpoint: Optional[str] = None,
                 attribute_classifier: Optional[str] = None) -> None:
        from legan.metrics import build_metric, build_preferred

        self.device = torch.device(device)
        self.notes: list[str] = []
        self.self_match_chance = float("nan")
        self.ssim = build_metric("ssim", self.device)
        self.lpips = self._preferred(build_preferred("lpips", self.device))
        self.distance = self._preferred(build_preferred("fid", self.device))
        self.match = self._required(build_metric("match", self.device))
        self.verified = self._required(build_metric("verified", self.device))
        self.quality = self._required(build_metric("quality", self.device, checkpoint=q_checkpoint)) \
            if q_checkpoint else None
        self.attributes = self._required(build_metric("attributes", self.device, checkpoint=attribute_classifier)) \
            if attribute_classifier else None
        if self.attributes is not None and self.attributes.test_accuracy:
            acc = self.attributes.test_accuracy
            self.notes.append("attribute classifier (trained on real training-split faces only) on the real test "
                              f"faces: expression {acc['expression_accuracy']:.3f} (majority class "
                              f"{acc['expression_majority']:.3f}), lighting {acc['lighting_accuracy']:.3f} "
                              f"(majority {acc['lighting_majority']:.3f})")

    def _preferred(self, chosen):
        metric, skipped = chosen
        for other in skipped:
            self.notes.append(f"{other.display_name} unavailable, {metric.display_name} shown instead: "
                              f"{other.unavailable_reason}")
        return self._required(metric)

    @staticmethod
    def _required(metric):
        if not metric.available:
            raise EvaluationError(f"{metric.display_name} is unavailable: {metric.unavailable_reason}")
        return metric

    @property
    def columns(self) -> list[tuple[str, str, bool]]:
        """(key, display name, higher is better) of every column, in table order."""
        cols = [("distance", self.distance.display_name, False), ("lpips", self.lpips.display_name, False),
                ("ssim", self.ssim.display_name, True), ("match", self.match.display_name, True),
                ("verified", f"{self.verified.display_name} vs input", True),
                ("self_match", "self-match (pixel Pearson)", True), ("input_dependence", "input dependence", True)]
        if self.quality is not None:
            cols.append(("quality", self.quality.display_name, True))
        if self.attributes is not None:
            cols += [("expression_acc", "expression acc. (attribute CNN)", True),
                     ("lighting_acc", "lighting acc. (attribute CNN)", True)]
        return cols

    def _stream(self, metric, *tensors, **kw) -> None:
        metric.reset()
        for i in range(0, len(tensors[0]), 32):
            metric.update(*(t[i:i + 32] for t in tensors), **{k: v[i:i + 32] for k, v in kw.items()})

    def score(self, name: str, outputs: torch.Tensor, batch: PairBatch, *, real: bool = False,
              seed: int = 0) -> ModelScores:
        """All metrics of `outputs` against the pairs' targets (the paper compares each output
        with its target). real=True scores the real photos: the input against the target for
        match and distance, the targets' own quality and attributes."""
        scores = ModelScores(name)
        if not real:
            self._stream(self.ssim, outputs, batch.targets)
            scores.per_pair["ssim"] = self.ssim.values()
            self._stream(self.lpips, outputs, batch.targets)
            scores.per_pair["lpips"] = self.lpips.values()
            self._stream(self.verified, outputs, batch.inputs)  # still the input's person?
            scores.per_pair["verified"] = self.verified.values()
            # Does the output depend on its input at all? (a collapsed generator gives one face per target)
            groups = pair_groups(batch.pairs)
            hits, chance = self_match_hits(outputs, batch.inputs, groups)
            scores.per_pair["self_match"] = hits
            self.self_match_chance = float(np.nanmean(chance)) if not np.isnan(chance).all() else float("nan")
            scores.set_values["input_dependence"] = input_dependence(outputs, batch.inputs, groups)
        probe = batch.inputs if real else outputs
        self._stream(self.match, probe, batch.targets)
        scores.per_pair["match"] = self.match.values()
        images = batch.targets if real else outputs
        if self.quality is not None:
            self._stream(self.quality, images, mask=batch.masks)
            scores.per_pair["quality"] = self.quality.values()
        if self.attributes is not None:
            self._stream(self.attributes, images, batch.target_expression, batch.target_lighting)
            values = self.attributes.values()
            scores.per_pair["expression_acc"] = values["expression"]
            scores.per_pair["lighting_acc"] = values["lighting"]
        self.distance.reset()
        for i in range(0, len(probe), 32):
            self.distance.update_real(batch.targets[i:i + 32])
            self.distance.update_fake(probe[i:i + 32])
        scores.set_values["distance"] = float(self.distance.compute())
        scores.set_draws["distance"] = np.asarray(self.distance.bootstrap(200, seed), dtype=float)
        return scores


def cluster_bootstrap(values: np.ndarray, clusters: np.ndarray, n: int = BOOTSTRAP_SAMPLES, seed: int = 0,
                      level: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of the mean when whole clusters (subjects) are resampled."""
    values = np.asarray(values, dtype=float)
    ids, inverse = np.unique(clusters, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(ids))
    counts = np.bincount(inverse, minlength=len(ids)).astype(float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(ids), size=(n, len(ids)))  # (n, clusters)
    means = sums[picks].sum(1) / counts[picks].sum(1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def summarise(scores: ModelScores, subjects: np.ndarray, columns, seed: int = 0) -> dict:
    row = {"model": scores.name}
    for key, _, _ in columns:
        if key in scores.per_pair:
            values = np.asarray(scores.per_pair[key], dtype=float)
            defined = ~np.isnan(values)  # self-match is undefined for pairs no other subject shares
            if not defined.any():
                row.update({key: None, f"{key}_lo": None, f"{key}_hi": None})
                continue
            lo, hi = cluster_bootstrap(values[defined], subjects[defined], seed=seed)
            row.update({key: float(np.mean(values[defined])), f"{key}_lo": lo, f"{key}_hi": hi})
        elif key in scores.set_draws:
            draws = scores.set_draws[key]
            alpha = (1 - CONFIDENCE) / 2
            row.update({key: scores.set_values[key], f"{key}_lo": float(np.quantile(draws, alpha)),
                        f"{key}_hi": float(np.quantile(draws, 1 - alpha))})
        elif key in scores.set_values:
            row.update({key: scores.set_values[key], f"{key}_lo": None, f"{key}_hi": None})
        else:
            row.update({key: None, f"{key}_lo": None, f"{key}_hi": None})
    row["pairs"] = len(subjects)
    return row


# -- outputs -----------------------------------------------------------------------------------
def save_outputs(outputs: torch.Tensor, pairs: pd.DataFrame, folder: Path) -> None:
    from PIL import Image

    from legan.samples import to_uint8

    folder.mkdir(parents=True, exist_ok=True)
    for image, pair_id in zip(to_uint8(outputs), pairs["pair_id"]):
        Image.fromarray(image).save(folder / f"{pair_id}.png")


def sample_rows(pairs: pd.DataFrame, count: int = 8, seed: int = 0) -> list[int]:
    """A fixed spread of pairs for grids: different subjects and targets first."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    chosen, seen = [], set()
    for i in order:
        key = (pairs.iloc[i]["subject"], pairs.iloc[i]["target_expression"], pairs.iloc[i]["target_lighting"])
        if key[0] not in seen or len(seen) >= pairs["subject"].nunique():
            chosen.append(int(i))
            seen.add(key[0])
        if len(chosen) == count:
            break
    return chosen


def save_grid(batch: PairBatch, outputs: dict[str, torch.Tensor], path: Path, count: int = 8) -> Path:
    """Rows: input, target, then each model; one column per sample pair."""
    from PIL import Image, ImageDraw

    from legan.samples import to_uint8

    idx = sample_rows(batch.pairs, count)
    rows = [("input", batch.inputs[idx]), ("target", batch.targets[idx])]
    rows += [(name, out[idx]) for name, out in outputs.items()]
    size = batch.inputs.shape[-1]
    scale = max(1, 64 // size)  # small images drawn at least 64 px so a person can see them
    label_w = 110
    tile = size * scale
    canvas = Image.new("RGB", (label_w + tile * len(idx), tile * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (name, images) in enumerate(rows):
        draw.text((4, r * tile + tile // 2 - 6), name[:18], fill="black")
        for c, image in enumerate(to_uint8(images)):
            canvas.paste(Image.fromarray(image).resize((tile, tile), Image.NEAREST), (label_w + c * tile, r * tile))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def format_cell(row: dict, key: str) -> str:
    if row.get(key) is None or (isinstance(row[key], float) and np.isnan(row[key])):
        return "–"
    value, lo, hi = (round(row.get(k) or 0.0, 3) + 0.0 for k in (key, f"{key}_lo", f"{key}_hi"))  # no "-0.000"
    if row.get(f"{key}_lo") is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def write_table(rows: list[dict], columns, out_dir: Path, stem: str = "table1",
                notes: Sequence[str] = ()) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    pd.DataFrame(rows).to_csv(csv_path, index=False)
    header = ["model"] + [f"{name} {'↑' if up else '↓'}" for _, name, up in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join([row["model"]] + [format_cell(row, key) for key, _, _ in columns]) + " |")
    text = "\n".join(lines) + "\n\nMean over the pairs, [95% bootstrap interval, subjects resampled].\n"
    text += "".join(f"\n- {note}" for note in notes)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(text + "\n")
    return csv_path, md_path


# -- the whole evaluation ----------------------------------------------------------------------
def evaluate_translators(translators: dict[str, Translator], evalset: EvalSet, out_dir: str | Path, *,
                         split: str = "test", image_size: int, device: str = "cpu",
                         q_checkpoint: Optional[str] = None, attribute_classifier: Optional[str] = None,
                         save_images: bool = True, limit: Optional[int] = None,
                         on_progress: Optional[Callable[[int, int], None]] = None,
                         should_stop: Optional[Callable[[], bool]] = None,
                         notes: Sequence[str] = ()) -> EvaluationResult:
    """Score each translator (plus the real and no-edit rows) on `split`; write the table, the
    per-pair CSV, the outputs and the grid under out_dir."""
    out_dir = Path(out_dir)
    batch = load_pairs(evalset, split, image_size, limit)
    for translator in translators.values():
        check_translator(translator, evalset, batch.pairs)
        if translator.image_size != image_size:
            raise EvaluationError(f"model {translator.name!r} works at {translator.image_size} px, "
                                  f"the evaluation at {image_size} px")
    suite = MetricSuite(device, q_checkpoint, attribute_classifier)
    subjects = batch.pairs["subject"].to_numpy()
    everything = {**translators, NO_EDIT_ROW: NoEditTranslator(evalset.expressions, evalset.lightings, image_size)}
    if evalset.manifest("train").is_file():  # what "one face per target" would score
        mean = MeanFaceTranslator(evalset.manifest("train"), evalset.expressions, evalset.lightings, image_size)
        everything[mean.name] = mean
    rows, per_pair, outputs = [], batch.pairs.copy(), {}
    total = len(everything) + 1
    for step, (name, translator) in enumerate(everything.items()):
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt("evaluation stopped")
        out = translate_pairs(translator, batch, evalset)
        if name in translators:
            outputs[name] = out
            if save_images:
                save_outputs(out, batch.pairs, out_dir / "outputs" / name)
        scores = suite.score(name, out, batch)
        rows.append(summarise(scores, subjects, suite.columns))
        for key, values in scores.per_pair.items():
            per_pair[f"{name}:{key}"] = values
        if on_progress is not None:
            on_progress(step + 1, total)
    real = suite.score(REAL_ROW, batch.targets, batch, real=True)
    rows.append(summarise(real, subjects, suite.columns))
    if on_progress is not None:
        on_progress(total, total)
    per_pair.to_csv(out_dir / "per_pair.csv", index=False)
    all_notes = [f"{len(batch.pairs)} pairs of {len(set(subjects))} held-out subjects ({split} split), "
                 f"{image_size} px; evaluation set hash {evalset.content_hash[:12]}",
                 "real: the real targets' quality; match and distance between the input photo and the "
                 "target photo (two real photos of the subject)",
                 "no edit: the input returned unchanged; mean face (train): the training split's mean image of the "
                 "target condition, whatever the input (what a generator collapsed to one face per target scores)",
                 f"self-match: share of outputs closer (pixel Pearson) to their own input than to the other "
                 f"subjects' inputs given the same conditions; chance {suite.self_match_chance:.3f}. input "
                 "dependence: spread of the outputs across subjects over the spread of their inputs (0: every "
                 "input gives the same face)",
                 "verified vs input: share of outputs that the face descriptor's own same-person rule calls "
                 "the input's person",
                 *suite.notes, *notes]
    csv_path, md_path = write_table(rows, suite.columns, out_dir, notes=all_notes)
    grid = save_grid(batch, outputs, out_dir / "grid.png")
    return EvaluationResult(csv_path, md_path, grid, rows)


def evaluate_checkpoint(checkpoint: str | Path, *, pairs_manifest: str | Path, out_dir: str | Path,
                        q_checkpoint: Optional[str] = None, device: str = "cpu",
                        attribute_classifier: Optional[str] = None,
                        on_progress: Optional[Callable[[int, int], None]] = None,
                        should_stop: Optional[Callable[[], bool]] = None) -> EvaluationResult:
    """One checkpoint on an evaluation set (`pairs_manifest`: the set's folder or one of its
    pairs_<split>.csv). Raises EvaluationError for bad input before any heavy work."""
    pairs_manifest = Path(pairs_manifest)
    root, split = (pairs_manifest, "test") if pairs_manifest.is_dir() else (
        pairs_manifest.parent, pairs_manifest.stem.removeprefix("pairs_"))
    try:
        evalset = load_evalset(root)
        translator = load_translator(checkpoint, device)
    except (EvalSetError, TranslatorError) as exc:
        raise EvaluationError(str(exc)) from exc
    if not evalset.pairs_path(split).is_file():
        raise EvaluationError(f"no pairs for split {split!r} in {root}")
    check_translator(translator, evalset, evalset.pairs(split))
    return evaluate_translators({translator.name: translator}, evalset, out_dir, split=split,
                                image_size=translator.image_size, device=device, q_checkpoint=q_checkpoint,
                                attribute_classifier=attribute_classifier, on_progress=on_progress,
                                should_stop=should_stop)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legan.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-evalset", action="store_true", help="split a manifest and pair its images")
    parser.add_argument("--manifest", help="with --build-evalset: the labelled manifest")
    parser.add_argument("--expressions", help="with --build-evalset: class names, comma-separated")
    parser.add_argument("--lightings", help="with --build-evalset: class names, comma-separated")
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", action="append", default=[], metavar="[NAME=]PATH",
                        help="a generator checkpoint (repeat for several models)")
    parser.add_argument("--evalset", help="the evaluation set folder")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--q-checkpoint")
    parser.add_argument("--attribute-classifier")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        if args.build_evalset:
            if not (args.manifest and args.expressions and args.lightings):
                parser.error("--build-evalset needs --manifest, --expressions and --lightings")
            evalset = build_evalset(args.manifest, args.out, expressions=class_names(args.expressions),
                                    lightings=class_names(args.lightings), test_fraction=args.test_fraction,
                                    val_fraction=args.val_fraction, seed=args.seed)
            print(json.dumps(json.loads((evalset.root / "evalset.json").read_text())["pairs"]))
            return 0
        if not (args.checkpoint and args.evalset):
            parser.error("give --checkpoint and --evalset (or --build-evalset)")
        evalset = load_evalset(args.evalset)
        translators = {}
        for spec in args.checkpoint:
            name, sep, path = spec.partition("=")
            translator = load_translator(path if sep else name, args.device, name=name if sep else None)
            translators[translator.name] = translator
        size = next(iter(translators.values())).image_size
        result = evaluate_translators(translators, evalset, args.out, split=args.split, image_size=size,
                                      device=args.device, q_checkpoint=args.q_checkpoint,
                                      attribute_classifier=args.attribute_classifier)
    except (EvaluationError, EvalSetError, TranslatorError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.table_md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
