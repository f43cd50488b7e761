"""Synthesis CLI: translation to one target or every combination, and manifest balancing."""

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from PIL import Image

from legan.generate import main
from legan.samples import to_uint8
from legan.synthesis import plan_balance
from legan.train import train
from tests.legan.core_fixtures import EXPRESSIONS, LIGHTINGS, SIZE, TinyFaceDataset, tiny_config

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    cfg = tiny_config(max_iterations=2)
    cfg.loss.lambda_id = cfg.loss.lambda_qual = 0.0
    run = tmp_path_factory.mktemp("gen_run")
    return train(cfg, run_dir=run, dataset=TinyFaceDataset(n=8)).checkpoint_path


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    ds = TinyFaceDataset(n=6)
    for i in range(6):
        big = Image.fromarray(to_uint8(ds[i]["image"][None])[0]).resize((64, 48))  # not square, not 32
        big.save(folder / f"face{i}.png")
    return folder


def test_translate_one_target(tmp_path, checkpoint, faces):
    code = main(["translate", "--checkpoint", str(checkpoint), "--images", str(faces / "face0.png"),
                 str(faces / "face1.png"), "--expression", "smile", "--lighting", "left", "--masks",
                 "--out", str(tmp_path)])
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["face0__smile__left.png", "face0__smile__left__M_e.png", "face0__smile__left__M_l.png",
                     "face1__smile__left.png", "face1__smile__left__M_e.png", "face1__smile__left__M_l.png"]
    assert Image.open(tmp_path / "face0__smile__left.png").size == (SIZE, SIZE)


def test_translate_every_combination_writes_a_grid(tmp_path, checkpoint, faces):
    code = main(["translate", "--checkpoint", str(checkpoint), "--images", str(faces / "face2.png"),
                 "--all", "--out", str(tmp_path)])
    assert code == 0
    assert len(list(tmp_path.glob("face2__*__*.png"))) == len(EXPRESSIONS) * len(LIGHTINGS)
    grid = Image.open(tmp_path / "face2__grid.png")
    assert grid.size == (SIZE * len(LIGHTINGS), SIZE * len(EXPRESSIONS))


def test_bad_inputs_get_clear_errors(tmp_path, checkpoint, faces, capsys):
    assert main(["translate", "--checkpoint", str(checkpoint), "--images", str(faces),
                 "--expression", "angry", "--lighting", "left", "--out", str(tmp_path)]) == 2
    assert "unknown expression 'angry'" in capsys.readouterr().err
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert main(["translate", "--checkpoint", str(checkpoint), "--images", str(tmp_path / "broken.png"),
                 "--all", "--out", str(tmp_path / "o")]) == 2
    assert "broken.png" in capsys.readouterr().err
    assert main(["translate", "--checkpoint", str(tmp_path / "none.pt"), "--images", str(faces),
                 "--all", "--out", str(tmp_path)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def _write_manifest(path: Path, rows):
    with path.open("w", newline="") as h:
        w = csv.writer(h)
        w.writerow(["image_path", "subject", "expression", "lighting"])
        w.writerows(rows)


def test_augment_balances_expressions_with_synthetic_images(tmp_path, checkpoint, faces):
    rows = [(f"face{i}.png", f"s{i}", e, LIGHTINGS[i % 3])
            for i, e in enumerate(["neutral", "neutral", "neutral", "neutral", "smile", "surprise"])]
    _write_manifest(faces / "train.csv", rows)
    out = tmp_path / "aug"
    assert main(["augment", "--checkpoint", str(checkpoint), "--manifest", str(faces / "train.csv"),
                 "--out", str(out)]) == 0
    with (out / "manifest.csv").open() as h:
        result = list(csv.DictReader(h))
    assert Counter(r["expression"] for r in result) == {"neutral": 4, "smile": 4, "surprise": 4}
    synthetic = [r for r in result if r["synthetic"] == "1"]
    assert len(synthetic) == 6
    for r in result:
        assert (out / r["image_path"]).is_file()  # every path resolves from the new manifest
    for r in synthetic:  # made from images of other classes, lighting kept
        source = next(x for x in result if x["synthetic"] == "0" and x["image_path"] == r["source_image"])
        assert source["expression"] != r["expression"] and source["lighting"] == r["lighting"]
        assert Image.open(out / r["image_path"]).size == (SIZE, SIZE)


def test_plan_balance_rejects_unknown_attribute():
    with pytest.raises(ValueError, match="balance must be"):
        plan_balance([{"expression": "a", "lighting": "b"}], "pose", ["a"])


def test_module_entry_point_runs(tmp_path, checkpoint, faces):
    proc = subprocess.run([sys.executable, "-m", "legan.generate", "translate", "--checkpoint", str(checkpoint),
                           "--images", str(faces / "face3.png"), "--expression", "neutral", "--lighting", "front",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "face3__neutral__front.png").is_file()


def test_checkpoints_carry_an_input_contract_that_loading_enforces(tmp_path, checkpoint):
    from legan.checkpoint import load_generator
    from runkit.contract import ContractError, InputContract

    G, config = load_generator(checkpoint)
    assert G.input_contract == InputContract(size=SIZE, mask="none")
    payload = torch.load(checkpoint, weights_only=False)
    old = tmp_path / "old.pt"
    torch.save({k: v for k, v in payload.items() if k != "input_contract"}, old)  # before contracts
    assert load_generator(old)[0].input_contract == InputContract(size=SIZE, mask="none")
    wrong = tmp_path / "wrong.pt"
    torch.save({**payload, "input_contract": InputContract(size=SIZE * 2).to_dict()}, wrong)
    with pytest.raises(ContractError, match="size"):
        load_generator(wrong)
    assert main(["translate", "--checkpoint", str(wrong), "--images", str(tmp_path), "--expression", "smile",
                 "--lighting", "left", "--out", str(tmp_path / "out")]) != 0
