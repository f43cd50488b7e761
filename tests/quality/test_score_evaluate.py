import csv
import json
import sys

import numpy as np
import torch

from quality.evaluate import main as evaluate_main
from faces.io import load_rgb
from runkit.contract import to_tensor
from quality.score import main as score_main, score_images
from quality.train import train
from tests.quality.conftest import tiny_train_config


def trained_checkpoint(sim_export, tmp_path):
    path, _, _ = sim_export
    return train(tiny_train_config(path, max_steps=2), run_dir=tmp_path / "run").checkpoint_path


def test_score_images_matches_the_model_on_tensors(sim_export, tmp_path):
    from quality.checkpoint import load_quality_model

    model = load_quality_model(trained_checkpoint(sim_export, tmp_path))
    path, labels, _ = sim_export
    images = [load_rgb(path.parent / p) for p in labels["image_path"][:5]]
    scores = score_images(model, images, batch_size=2)
    with torch.no_grad():
        expected = model(torch.stack([to_tensor(im) for im in images])).numpy()
    assert scores.shape == (5,) and np.allclose(scores, expected, atol=1e-5)


def test_score_cli_writes_csv_and_reports_unreadable_files(sim_export, tmp_path):
    ckpt = trained_checkpoint(sim_export, tmp_path)
    path, labels, _ = sim_export
    (tmp_path / "broken.png").write_bytes(b"nope")
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([str(path.parent / labels["image_path"][0]), "broken.png"]))
    out = tmp_path / "scores.csv"
    assert score_main(["--checkpoint", str(ckpt), "--images", str(listing), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert 0.0 <= float(rows[0]["score"]) <= 10.0 and rows[0]["error"] == ""
    assert rows[1]["score"] == "" and "broken.png" in rows[1]["error"]


def test_score_prepare_without_faces_package_is_a_clear_error(sim_export, tmp_path, monkeypatch, capsys):
    ckpt = trained_checkpoint(sim_export, tmp_path)
    monkeypatch.setitem(sys.modules, "faces.pipeline", None)  # import fails like a missing package
    code = score_main(["--checkpoint", str(ckpt), "--images", str(sim_export[0].parent / "images"),
                       "--out", str(tmp_path / "s.csv"), "--prepare"])
    assert code == 2 and "--prepare needs the faces package" in capsys.readouterr().err


def test_evaluate_cli_writes_metrics_and_calibration_plot(sim_export, tmp_path, capsys):
    ckpt = trained_checkpoint(sim_export, tmp_path)
    path, labels, _ = sim_export
    out = tmp_path / "eval"
    assert evaluate_main(["--checkpoint", str(ckpt), "--labels", str(path), "--out-dir", str(out)]) == 0
    metrics = json.loads((out / "all_metrics.json").read_text())
    assert metrics["count"] == len(labels)
    assert {"mae", "within_sigma", "pearson", "spearman"} <= set(metrics)
    assert (out / "all_calibration.png").stat().st_size > 1000
    assert evaluate_main(["--checkpoint", str(ckpt), "--labels", str(path), "--split", "test",
                          "--out-dir", str(out)]) == 0
    assert json.loads((out / "test_metrics.json").read_text())["count"] < len(labels)
    capsys.readouterr()
    assert evaluate_main(["--checkpoint", str(tmp_path / "none.pt"), "--labels", str(path)]) == 2
    assert "does not exist" in capsys.readouterr().err
