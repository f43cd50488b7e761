"""Fill the comparison table's human-preference column (table1.csv and table1.md of a
`legan.compare` / `legan.evaluate` run) from a lineup study's results.

Both files are computed first and then replaced, so a failure leaves the old tables; a
second run replaces the column rather than adding another.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ratings_site.core.errors import ServiceError

from .results import LineupResults

MD_HEADER = "human preference (lineup votes) ↑"
NOTE_PREFIX = "- human preference:"
CSV_COLUMNS = ("human_preference", "human_preference_lo", "human_preference_hi", "human_preference_votes")
MSG_NO_TABLE = "no table1.csv and table1.md in {folder}"
MSG_MD_FORMAT = "{path} has no '| model |' table to add the column to"


def _cell(share, lo, hi) -> str:
    return f"{share:.1%} [{lo:.1%}, {hi:.1%}]"


def _note(results: LineupResults) -> str:
    kind = "SIMULATED raters (demo), not people" if results.simulated else "human raters"
    return (f"{NOTE_PREFIX} share of the lineup votes per model ({results.study_name}; {kind}; {results.votes} "
            f"votes by {results.raters} raters on {results.lineups_with_votes} lineups; [95% bootstrap interval, "
            "lineups resampled]); models outside the lineups: –")


def _md_with_column(text: str, results: LineupResults, path: Path) -> str:
    by_model = {m.model: m for m in results.models}
    lines = text.rstrip("\n").split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("| model |"))
    except StopIteration:
        raise ServiceError(MSG_MD_FORMAT.format(path=path), code="bad_table")
    header = [c.strip() for c in lines[start].strip().strip("|").split("|")]
    replace = header[-1] == MD_HEADER
    i = start
    while i < len(lines) and lines[i].startswith("|"):
        cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
        if replace:
            cells = cells[:-1]
        if i == start:
            cells.append(MD_HEADER)
        elif i == start + 1:
            cells = ["---"] * (len(cells) + 1)
        else:
            m = by_model.get(cells[0])
            cells.append(_cell(m.share, m.share_lo, m.share_hi) if m else "–")
        lines[i] = "| " + " | ".join(cells) + " |" if i != start + 1 else "|" + "---|" * len(cells)
        i += 1
    lines = [line for line in lines if not line.startswith(NOTE_PREFIX)]
    lines.append(_note(results))
    return "\n".join(lines) + "\n"


def _csv_with_column(path: Path, results: LineupResults) -> str:
    frame = pd.read_csv(path)
    by_model = {m.model: m for m in results.models}
    frame = frame.drop(columns=[c for c in CSV_COLUMNS if c in frame.columns])
    frame["human_preference"] = [by_model[m].share if m in by_model else None for m in frame["model"]]
    frame["human_preference_lo"] = [by_model[m].share_lo if m in by_model else None for m in frame["model"]]
    frame["human_preference_hi"] = [by_model[m].share_hi if m in by_model else None for m in frame["model"]]
    frame["human_preference_votes"] = [by_model[m].votes if m in by_model else None for m in frame["model"]]
    return frame.to_csv(index=False)


def human_preference_write(*, results: LineupResults, folder: str | Path) -> tuple[Path, Path]:
    folder = Path(folder)
    csv_path, md_path = folder / "table1.csv", folder / "table1.md"
    if not (csv_path.is_file() and md_path.is_file()):
        raise ServiceError(MSG_NO_TABLE.format(folder=folder), code="no_table")
    new_md = _md_with_column(md_path.read_text(), results, md_path)
    new_csv = _csv_with_column(csv_path, results)
    for path, text in ((csv_path, new_csv), (md_path, new_md)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return csv_path, md_path


MSG_NOT_FINISHED = ("{study} is {status}: fill the human-preference column from a finished study "
                    "(or allow an unfinished one for a provisional column)")


def study_table_fill(*, lineup_study, extra_folders=(), allow_unfinished: bool = False) -> tuple[LineupResults, list[Path]]:
    """Write the study's human-preference column into the run it was imported from, its
    results folder when the import named one, and any further table folders."""
    from ratings_site.studies.models import Study

    from .results import lineup_results

    study = lineup_study.study
    if study.status != Study.Status.COMPLETE and not allow_unfinished:
        raise ServiceError(MSG_NOT_FINISHED.format(study=study, status=study.status), code="not_finished", status=409)
    results = lineup_results(lineup_study)
    written = []
    folders = [lineup_study.run_folder]
    if lineup_study.provenance.get("results_dir"):
        folders.append(lineup_study.provenance["results_dir"])
    for folder in dict.fromkeys([*folders, *map(str, extra_folders)]):
        written += list(human_preference_write(results=results, folder=folder))
    return results, written
