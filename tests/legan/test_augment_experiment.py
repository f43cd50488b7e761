"""The augmentation experiment end to end on tiny made-up data: manifests laid out like
legan.data.build_manifests' cache, a generator trained by the command itself or given as a
checkpoint, and the table files it writes."""

import csv
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from legan.experiments.augment import (AugmentConfig, GeneratorTraining, main, paired_p_value, run, summarise)
from legan.experiments.augment_models import ClassifierConfig, tpr_at_fpr

torch.set_num_threads(1)
SIZE = 16


def _write_split(folder, name, rows, rng):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    lines = ["image_path,subject,expression,lighting"]
    for i, (subject, expression, lighting, pattern) in enumerate(rows):
        img = np.clip(pattern + rng.normal(0, 12, (SIZE, SIZE)), 0, 255).astype(np.uint8)
        rel = f"images/{name}-{i}.png"
        Image.fromarray(img).convert("RGB").save(folder / rel)
        lines.append(f"{rel},{subject},{expression},{lighting}")
    (folder / f"manifest_{name}.csv").write_text("\n".join(lines) + "\n")


def make_data(root):
    """jaffe / ckplus48 (two expressions, drawn as bright or dark bands) and yale_b (subjects
    drawn as their own texture, lit from the left or the right), subject-disjoint splits."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    face = {"happy": np.where(yy > 10, 220.0, 110.0), "sad": np.where(yy > 10, 20.0, 110.0)}
    for ds, subjects in (("jaffe", ["a", "b", "c"]), ("ckplus48", ["d", "e", "f"])):
        for split, subs in (("train", subjects[:2]), ("test", subjects[2:])):
            rows = [(f"{ds}:{s}", e, "normal", face[e]) for s in subs for e in face for _ in range(3)]
            _write_split(root / ds, split, rows, rng)
    light = {"left": 60 + 4 * xx, "right": 120 - 4 * xx}
    texture = {s: rng.uniform(-40, 40, (SIZE, SIZE)) for s in "ghijkl"}
    for split, subs in (("train", "ghij"), ("test", "kl")):
        rows = [(f"yale_b:{s}", "neutral", l, light[l] + texture[s]) for s in subs for l in light for _ in range(3)]
        _write_split(root / "yale_b", split, rows, rng)
    return root


def tiny_config(tmp_path, **overrides):
    cfg = AugmentConfig(
        data_root=str(make_data(tmp_path / "data")), out=str(tmp_path / "out"), work_dir=str(tmp_path / "work"),
        image_size=SIZE, seeds=[0, 1], device="cpu",
        expression=ClassifierConfig(width=4, embed_dim=8, epochs=2, batch_size=8),
        verification=ClassifierConfig(width=4, embed_dim=8, epochs=2, batch_size=8),
        generator_training=GeneratorTraining(iterations=2, batch_size=4, g_channels=4, g_res_blocks=1,
                                             d_channels=4, d_layers=3))
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


def test_experiment_trains_a_generator_and_writes_the_tables(tmp_path):
    result = run(tiny_config(tmp_path, train_generator=True), command="python -m legan.experiments.augment x")
    out = tmp_path / "out"
    rows = list(csv.DictReader((out / "seeds.csv").open()))
    # per seed: 2 expression classes + mean, 2 verification metrics, each with and without augments
    assert len(rows) == 2 * 2 * (3 + 2)
    by = {(r["task"], r["metric"], r["condition"], r["seed"]): r for r in rows}
    assert by[("expression", "roc_auc_mean", "original", "0")]["train_images"] == "24"  # 2 sets x 2 subj x 2 x 3
    assert by[("expression", "roc_auc_mean", "augmented", "0")]["train_images"] == "48"  # one copy each
    assert by[("verification", "roc_auc", "augmented", "1")]["train_images"] == "48"
    for r in rows:
        assert 0.0 <= float(r["value"]) <= 1.0
    table = list(csv.DictReader((out / "table.csv").open()))
    assert {(t["task"], t["metric"]) for t in table} == {
        ("expression", "roc_auc_happy"), ("expression", "roc_auc_sad"), ("expression", "roc_auc_mean"),
        ("verification", "tpr_at_fpr_1pct"), ("verification", "roc_auc")}
    assert all(t["seeds"] == "2" for t in table)
    md = (out / "table.md").read_text()
    assert "(a) Expression recognition" in md and "| tpr_at_fpr_1pct |" in md and "Paper" in md
    meta = json.loads((out / "run.json").read_text())
    assert meta["command"] == "python -m legan.experiments.augment x" and len(meta["data_hash"]) == 64
    assert meta["wall_time_s"] > 0 and meta["device"].startswith("cpu") and meta["git_commit"]
    assert (out / "command.txt").read_text().strip() == "python -m legan.experiments.augment x"
    assert result["meta"]["generator"].endswith(".pt")
    assert not list(out.glob("*.png"))  # nothing made from faces lands in the results folder


def test_a_given_generator_checkpoint_is_used_and_bad_options_fail_clearly(tmp_path, capsys):
    first = run(tiny_config(tmp_path / "a", train_generator=True, seeds=[0]))
    ckpt = first["meta"]["generator"]
    cfg = tiny_config(tmp_path / "b", generator=ckpt, seeds=[0])
    second = run(cfg)
    assert second["meta"]["generator"] == ckpt
    assert not (tmp_path / "b" / "work").exists()  # no generator trained
    assert main(["--data-root", str(tmp_path / "b" / "data"), "--out", str(tmp_path / "c")]) == 2
    assert "--train-generator" in capsys.readouterr().err
    assert main(["--data-root", str(tmp_path / "nowhere"), "--train-generator", "--out", str(tmp_path / "c")]) == 2
    assert "build_manifests" in capsys.readouterr().err


def test_summary_statistics_and_paired_test():
    rows = [{"task": "t", "metric": "m", "condition": c, "seed": s, "value": v}
            for c, vals in (("original", [0.5, 0.6, 0.7]), ("augmented", [0.6, 0.8, 0.8])) for s, v in enumerate(vals)]
    (s,) = summarise(rows)
    assert s["original_mean"] == pytest.approx(0.6) and s["original_std"] == pytest.approx(0.1)
    assert s["augmented_mean"] == pytest.approx(2.2 / 3) and s["difference"] == pytest.approx(2.2 / 3 - 0.6)
    from scipy.stats import ttest_rel

    assert s["p_value_paired_t"] == pytest.approx(ttest_rel([0.6, 0.8, 0.8], [0.5, 0.6, 0.7]).pvalue)
    assert math.isnan(paired_p_value([0.5], [0.6]))


def test_tpr_at_one_percent_fpr():
    impostor = np.linspace(0, 1, 1000)  # the top 1% of impostors score above 0.99
    assert tpr_at_fpr(np.array([0.995, 0.999, 0.5, 0.2]), impostor, 0.01) == 0.5
    assert tpr_at_fpr(np.array([2.0, 3.0]), impostor, 0.01) == 1.0
