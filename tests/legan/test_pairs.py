"""Evaluation sets: subject-disjoint three-way splits, target pairs, content hash, errors."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from legan.data.manifest import write_manifest
from legan.data.pairs import EvalSetError, build_evalset, build_pairs, canonical_images, load_evalset

EXPRESSIONS = ["neutral", "happy"]
LIGHTINGS = ["frontal", "left", "right"]


def _manifest(tmp_path, subjects=10, extra_left=True):
    rows = []
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for s in range(subjects):
        for e in EXPRESSIONS:
            for l in LIGHTINGS:
                for k in range(2 if (extra_left and l == "left") else 1):
                    name = f"images/s{s}_{e}_{l}_{k}.png"
                    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / name)
                    rows.append({"image_path": name, "subject": f"ds:{s:02d}", "expression": e, "lighting": l,
                                 "source": "ds", "source_path": name})
    return write_manifest(rows, tmp_path / "manifest.csv")


def test_splits_share_no_subject_and_pairs_stay_within_a_subject(tmp_path):
    evalset = build_evalset(_manifest(tmp_path), tmp_path / "evalset", expressions=EXPRESSIONS,
                            lightings=LIGHTINGS, test_fraction=0.2, val_fraction=0.2, seed=3)
    frames = {name: pd.read_csv(evalset.manifest(name)) for name in ("train", "val", "test")}
    subjects = {name: set(f["subject"]) for name, f in frames.items()}
    assert not subjects["train"] & subjects["test"]
    assert not subjects["train"] & subjects["val"]
    assert not subjects["val"] & subjects["test"]
    assert sum(len(s) for s in subjects.values()) == 10
    assert set(evalset.subjects["test"]) == subjects["test"] and len(subjects["test"]) == 2
    pairs = evalset.pairs("test")
    # 2 test subjects x 6 conditions, each paired with the 5 others
    assert len(pairs) == 2 * 6 * 5
    test = frames["test"].set_index("image_path")
    for row in pairs.itertuples():
        source, target = test.loc[row.input_path], test.loc[row.target_path]
        assert source["subject"] == target["subject"] == row.subject
        assert (target["expression"], target["lighting"]) == (row.target_expression, row.target_lighting)
        assert (source["expression"], source["lighting"]) == (row.input_expression, row.input_lighting)
        assert (row.input_expression, row.input_lighting) != (row.target_expression, row.target_lighting)
    assert (evalset.root / pairs.iloc[0]["input_path"]).is_file()


def test_one_canonical_image_per_condition():
    frame = pd.DataFrame([{"image_path": f"{i}.png", "subject": "a", "expression": "neutral",
                           "lighting": "left" if i else "frontal"} for i in range(3)])
    canon = canonical_images(frame)
    assert sorted(canon["image_path"]) == ["0.png", "1.png"]
    assert len(build_pairs(frame)) == 2


def test_yale_b_targets_are_lit_from_the_canonical_direction():
    rows = [{"image_path": f"{name}.png", "subject": "yale_b:01", "expression": "neutral", "lighting": "left",
             "source": "yale_b", "source_path": f"/d/yaleB01_P00{name}.pgm"} for name in ("A+110E+65", "A+050E+00", "A+070E+45")]
    rows.append({"image_path": "f.png", "subject": "yale_b:01", "expression": "neutral", "lighting": "frontal",
                 "source": "yale_b", "source_path": "/d/yaleB01_P00A+000E+00.pgm"})
    canon = canonical_images(pd.DataFrame(rows))
    assert set(canon["image_path"]) == {"A+050E+00.png", "f.png"}


def test_content_hash_is_stable_and_follows_the_pixels(tmp_path):
    manifest = _manifest(tmp_path)
    kwargs = dict(expressions=EXPRESSIONS, lightings=LIGHTINGS, seed=1)
    first = build_evalset(manifest, tmp_path / "a", **kwargs)
    again = build_evalset(manifest, tmp_path / "b", **kwargs)
    assert first.content_hash == again.content_hash
    assert load_evalset(tmp_path / "a").content_hash == first.content_hash
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "images" / "s0_happy_left_1.png")
    assert build_evalset(manifest, tmp_path / "c", **kwargs).content_hash != first.content_hash
    meta = json.loads((tmp_path / "a" / "evalset.json").read_text())
    assert meta["pairs"]["test"] == len(first.pairs("test"))


def test_a_split_without_pairs_is_refused_before_writing(tmp_path):
    rows = []
    (tmp_path / "images").mkdir()
    for s in range(6):  # one image per subject: nothing to pair
        name = f"images/{s}.png"
        Image.fromarray(np.zeros((8, 8, 3), np.uint8) + s).save(tmp_path / name)
        rows.append({"image_path": name, "subject": str(s), "expression": "neutral", "lighting": "frontal"})
    manifest = write_manifest(rows, tmp_path / "m.csv")
    with pytest.raises(EvalSetError, match="no pairs"):
        build_evalset(manifest, tmp_path / "out", expressions=EXPRESSIONS, lightings=LIGHTINGS)
    assert not (tmp_path / "out" / "evalset.json").exists()


def test_too_few_subjects_and_not_an_evalset(tmp_path):
    from legan.data.pairs import split_subjects

    with pytest.raises(EvalSetError, match="at least 3 subjects"):
        split_subjects(["a", "b"], 0.2, 0.2, 0)
    with pytest.raises(EvalSetError, match="not an evaluation set"):
        load_evalset(tmp_path)
