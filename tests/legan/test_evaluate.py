"""legan.evaluate: the metrics table of trained checkpoints on held-out target pairs."""

import numpy as np
import pandas as pd
import pytest
import torch

from legan.data.dataset import LeganDataset
from legan.data.pairs import build_evalset
from legan.evaluate import EvaluationError, cluster_bootstrap, evaluate_checkpoint, main
from legan.train import train
from tests.legan.core_fixtures import tiny_config, tiny_identity_net, tiny_quality_net
from tests.legan.evalset_fixtures import EXPRESSIONS, LIGHTINGS, write_face_manifest

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def evalset(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    return build_evalset(write_face_manifest(root), root / "evalset", expressions=EXPRESSIONS,
                         lightings=LIGHTINGS, test_fraction=0.25, val_fraction=0.25, seed=0)


@pytest.fixture(scope="module")
def checkpoint(evalset, tmp_path_factory):
    """A LEGAN trained for two iterations on the evaluation set's training split, watching its
    validation pairs."""
    run = tmp_path_factory.mktemp("run")
    config = tiny_config(max_iterations=2, log_every=1, validation_pairs=str(evalset.pairs_path("val")),
                         validate_every=1, expressions=EXPRESSIONS, lightings=LIGHTINGS)
    dataset = LeganDataset(evalset.manifest("train"), EXPRESSIONS, LIGHTINGS, image_size=32)
    result = train(config, run_dir=run, dataset=dataset, identity_net=tiny_identity_net(),
                   quality_net=tiny_quality_net())
    return result


def test_training_records_validation_of_held_out_pairs(checkpoint):
    from runkit.runs import read_stats

    stats = read_stats(checkpoint.run_dir / "stats.jsonl")
    assert [s["iteration"] for s in stats] == [1, 2]
    for key in ("Val/ssim_target", "Val/l1_target", "Val/self_match", "Val/self_match_chance",
                "Val/input_dependence"):
        assert key in stats[-1] and np.isfinite(stats[-1][key]), key
    assert 0 < stats[-1]["Val/self_match_chance"] < 1
    assert (checkpoint.run_dir / "losses.png").stat().st_size > 0


def test_evaluation_cli_writes_the_table_outputs_and_grid(evalset, checkpoint, tmp_path):
    out = tmp_path / "eval"
    code = main(["--checkpoint", f"tiny={checkpoint.checkpoint_path}", "--evalset", str(evalset.root),
                 "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "table1.csv")
    assert list(table["model"]) == ["tiny", "no edit", "mean face (train)", "real"]
    pairs = evalset.pairs("test")
    assert (table["pairs"] == len(pairs)).all()
    no_edit = table.set_index("model").loc["no edit"]
    assert no_edit["verified"] == 1.0  # an unchanged input is its own person
    assert no_edit["self_match"] == 1.0 and no_edit["input_dependence"] == pytest.approx(1.0)
    mean = table.set_index("model").loc["mean face (train)"]
    assert mean["input_dependence"] == 0.0  # one face per target, whatever the input
    tiny = table.set_index("model").loc["tiny"]
    for key in ("ssim", "lpips", "match", "distance", "self_match"):
        assert tiny[f"{key}_lo"] <= tiny[key] + 1e-9 <= tiny[f"{key}_hi"] + 2e-9
    md = (out / "table1.md").read_text()
    assert "FD-dlib128" in md and "LPIPS-proxy" in md and "held-out subjects" in md
    per_pair = pd.read_csv(out / "per_pair.csv")
    assert len(per_pair) == len(pairs) and "tiny:ssim" in per_pair
    assert len(list((out / "outputs" / "tiny").glob("*.png"))) == len(pairs)
    assert (out / "grid.png").stat().st_size > 0


def test_evaluation_refuses_a_checkpoint_of_another_kind(evalset, tmp_path):
    bogus = tmp_path / "q.pt"
    torch.save({"model": {}, "model_config": {}}, bogus)
    with pytest.raises(EvaluationError, match="not a generator checkpoint"):
        evaluate_checkpoint(bogus, pairs_manifest=evalset.pairs_path("test"), out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_evaluation_refuses_targets_the_model_does_not_know(tmp_path, checkpoint):
    root = tmp_path / "other"
    manifest = write_face_manifest(root, subjects=4)
    frame = pd.read_csv(manifest)
    frame["lighting"] = frame["lighting"].replace({"left": "right"})
    frame.to_csv(manifest, index=False)
    build_evalset(manifest, root / "evalset", expressions=EXPRESSIONS, lightings=["frontal", "right"])
    with pytest.raises(EvaluationError, match="does not know the lighting class"):
        evaluate_checkpoint(checkpoint.checkpoint_path, pairs_manifest=root / "evalset", out_dir=tmp_path / "o")
    assert main(["--checkpoint", str(checkpoint.checkpoint_path), "--evalset", str(tmp_path / "none"),
                 "--out", str(tmp_path / "o")]) == 2


def test_cluster_bootstrap_resamples_subjects():
    values = np.array([1.0, 1.0, 0.0, 0.0])
    assert cluster_bootstrap(np.ones(4), np.array(["a", "a", "b", "b"])) == (1.0, 1.0)
    lo, hi = cluster_bootstrap(values, np.array(["a", "a", "b", "b"]), n=2000)
    assert (lo, hi) == (0.0, 1.0)  # two subjects: a resample holds a's pairs only, b's only, or both


def test_mean_face_is_the_training_mean_of_the_target_condition(evalset):
    from legan.translator import MeanFaceTranslator

    mean = MeanFaceTranslator(evalset.manifest("train"), EXPRESSIONS, LIGHTINGS, 32)
    data = LeganDataset(evalset.manifest("train"), EXPRESSIONS, LIGHTINGS, image_size=32)
    happy_left = torch.stack([data[i]["image"] for i in range(len(data))
                              if (data[i]["expression"], data[i]["lighting"]) == (1, 1)]).mean(0)
    out = mean.translate(torch.zeros(2, 3, 32, 32), torch.tensor([1, 1]), torch.tensor([1, 1]))
    assert torch.allclose(out[0], happy_left, atol=1e-6) and torch.equal(out[0], out[1])
