"""Read a comparison run's outputs into a lineup plan, checking everything before any write.

A run folder is what `legan.compare` leaves under runs/<name>/ (eval/per_pair.csv,
eval/outputs/<model>/<pair_id>.png, evalset/) or an evaluation folder that
`legan.evaluate --out` wrote (per_pair.csv, outputs/), with its evaluation set beside it
or named explicitly. Each lineup is one held-out subject: their real photo with the
reference condition (bright frontal light, neutral expression) as the input, and one
edited target condition chosen at random.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ratings_site.core.errors import ServiceError

from . import errors

PAIR_COLUMNS = ("pair_id", "subject", "input_path", "target_path", "input_expression", "input_lighting",
                "target_expression", "target_lighting")
EXAMPLE_SPLITS = ("train", "val")  # never a test subject: the examples must not give the answer away


class LineupImportError(ServiceError):
    def __init__(self, message: str):
        super().__init__(message, code="lineup_import")


@dataclass
class RunFiles:
    eval_dir: Path
    evalset_dir: Path
    per_pair: Path
    outputs: Path
    run_json: Path | None
    results_dir: Path | None = None  # legan.compare's results/<name>/: its table gets the column too


@dataclass
class PlannedCandidate:
    model_name: str
    name: str
    data: bytes
    q_score: float | None


@dataclass
class PlannedLineup:
    index: int
    subject: str
    pair_id: str
    target_expression: str
    target_lighting: str
    reference_name: str
    reference: bytes
    candidates: list[PlannedCandidate] = field(default_factory=list)


@dataclass
class PlannedExample:
    kind: str
    value: str
    name: str
    data: bytes


@dataclass
class LineupPlan:
    files: RunFiles
    model_names: list[str]
    lineups: list[PlannedLineup]
    examples: list[PlannedExample]
    provenance: dict


def run_files_locate(folder: str | Path, evalset: str | Path | None = None, results: str | Path | None = None) -> RunFiles:
    folder = Path(folder)
    if (folder / "eval" / "per_pair.csv").is_file():
        eval_dir, candidates = folder / "eval", [folder / "evalset"]
    elif (folder / "per_pair.csv").is_file():
        eval_dir, candidates = folder, [folder / "evalset", folder.parent / "evalset"]
    else:
        raise LineupImportError(errors.NOT_A_RUN.format(path=folder))
    if not (eval_dir / "outputs").is_dir():
        raise LineupImportError(errors.NOT_A_RUN.format(path=folder))
    if evalset is not None:
        candidates = [Path(evalset)]
    found = next((c for c in candidates if (c / "evalset.json").is_file()), None)
    if found is None:
        raise LineupImportError(errors.NO_EVALSET.format(path=folder, looked=", ".join(str(c) for c in candidates)))
    places = [folder / "run.json", eval_dir / "run.json"]
    if results is not None:
        results = Path(results)
        if not (results / "table1.csv").is_file():
            raise LineupImportError(errors.NO_RESULTS_TABLE.format(path=results))
        places.insert(0, results / "run.json")
    run_json = next((p for p in places if p.is_file()), None)
    return RunFiles(eval_dir, found, eval_dir / "per_pair.csv", eval_dir / "outputs", run_json, results)


def _read_image(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except (OSError, SyntaxError, ValueError) as exc:
        raise LineupImportError(errors.BAD_IMAGE.format(path=path, error=exc))
    return data


def _per_pair(files: RunFiles) -> pd.DataFrame:
    try:
        frame = pd.read_csv(files.per_pair, dtype={c: str for c in PAIR_COLUMNS}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LineupImportError(errors.PER_PAIR_UNREADABLE.format(path=files.per_pair, error=exc))
    missing = [c for c in PAIR_COLUMNS if c not in frame.columns]
    if missing:
        raise LineupImportError(errors.PER_PAIR_COLUMNS.format(path=files.per_pair, missing=missing))
    return frame


def _models(files: RunFiles, wanted: list[str] | None) -> list[str]:
    known = sorted(p.name for p in files.outputs.iterdir() if p.is_dir())
    if not known:
        raise LineupImportError(errors.NO_MODELS.format(path=files.outputs))
    models = list(wanted) if wanted else known
    missing = [m for m in models if m not in known]
    if missing:
        raise LineupImportError(errors.UNKNOWN_MODELS.format(missing=missing, path=files.outputs, known=known))
    if len(models) < 2:
        raise LineupImportError(errors.TOO_FEW_MODELS.format(models=models))
    return models


def _q_score(row, model: str) -> float | None:
    value = row.get(f"{model}:quality")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _examples(files: RunFiles, lineups: list[PlannedLineup], ref_expression: str, ref_lighting: str) -> list[PlannedExample]:
    frames = [pd.read_csv(files.evalset_dir / f"{s}.csv", dtype=str, keep_default_na=False)
              for s in EXAMPLE_SPLITS if (files.evalset_dir / f"{s}.csv").is_file()]
    faces = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["image_path", "expression", "lighting"])
    wanted = [("expression", v) for v in sorted({lu.target_expression for lu in lineups})]
    wanted += [("lighting", v) for v in sorted({lu.target_lighting for lu in lineups})]
    examples = []
    for kind, value in wanted:
        matches = faces[faces[kind] == value]
        other, ref = ("lighting", ref_lighting) if kind == "expression" else ("expression", ref_expression)
        # Show the target alone where possible: the other attribute at its reference value.
        preferred = matches[matches[other] == ref]
        chosen = preferred if len(preferred) else matches
        if chosen.empty:
            raise LineupImportError(errors.NO_EXAMPLE.format(kind=kind, value=value))
        path = files.evalset_dir / chosen.iloc[0]["image_path"]
        examples.append(PlannedExample(kind, value, f"{kind}-{value}{path.suffix or '.png'}", _read_image(path)))
    return examples


def _provenance(files: RunFiles) -> dict:
    import json

    facts = {"eval_dir": str(files.eval_dir), "evalset": str(files.evalset_dir)}
    if files.results_dir is not None:
        facts["results_dir"] = str(files.results_dir)
    if files.run_json is not None:
        try:
            run = json.loads(files.run_json.read_text())
        except ValueError:
            run = {}
        facts.update({k: run[k] for k in ("command", "git_commit", "evalset_hash", "q_labels") if k in run})
    return facts


def lineup_plan(*, folder: str | Path, subjects: int = 30, models: list[str] | None = None, seed: int = 0,
                reference_expression: str = "neutral", reference_lighting: str = "frontal",
                evalset: str | Path | None = None, results: str | Path | None = None) -> LineupPlan:
    """Everything an import will write, read and checked; raises LineupImportError with the reason."""
    if subjects < 1:
        raise LineupImportError(errors.BAD_NUMBER.format(name="subjects", minimum=1, value=subjects))
    files = run_files_locate(folder, evalset, results)
    frame = _per_pair(files)
    model_names = _models(files, models)
    usable = frame[(frame["input_expression"] == reference_expression) & (frame["input_lighting"] == reference_lighting)
                   & ~((frame["target_expression"] == reference_expression) & (frame["target_lighting"] == reference_lighting))]
    pool = sorted(usable["subject"].unique())
    if len(pool) < subjects:
        raise LineupImportError(errors.TOO_FEW_SUBJECTS.format(
            available=len(pool), expression=reference_expression, lighting=reference_lighting, path=files.per_pair,
            wanted=subjects))
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(pool, size=subjects, replace=False).tolist())
    lineups, missing = [], []
    for index, subject in enumerate(chosen):
        rows = usable[usable["subject"] == subject].sort_values("pair_id")
        row = rows.iloc[int(rng.integers(len(rows)))].to_dict()
        reference = files.evalset_dir / row["input_path"]
        if not reference.is_file():
            raise LineupImportError(errors.MISSING_REFERENCE.format(path=reference, subject=subject))
        lineup = PlannedLineup(index, subject, row["pair_id"], row["target_expression"], row["target_lighting"],
                               f"{row['pair_id']}-reference{reference.suffix or '.png'}", _read_image(reference))
        for model in model_names:
            path = files.outputs / model / f"{row['pair_id']}.png"
            if not path.is_file():
                missing.append(str(path))
                continue
            lineup.candidates.append(PlannedCandidate(model, f"{row['pair_id']}-{model}.png", _read_image(path),
                                                      _q_score(row, model)))
        lineups.append(lineup)
    if missing:
        raise LineupImportError(errors.MISSING_OUTPUTS.format(count=len(missing), examples=", ".join(missing[:3])))
    examples = _examples(files, lineups, reference_expression, reference_lighting)
    return LineupPlan(files, model_names, lineups, examples, _provenance(files))
