"""legan.compare end to end on a made-up CK+-style folder: every model trained, evaluated on the
held-out pairs, results written with their provenance, and a second run resumes instead of
training again."""

import json

import pandas as pd
import pytest
import torch

from legan.compare import DEFAULT_MODELS, STARGAN_AUTHORS_LOSS, main, model_config, parse_args, prepare_evalset
from tests.legan.evalset_fixtures import write_ckplus_folder

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    write_ckplus_folder(root / "data" / "ckplus48")
    args = ["--preset", "smoke", "--data-root", str(root / "data"), "--datasets", "ckplus48",
            "--runs", str(root / "runs"), "--results", str(root / "results"), "--name", "t"]
    main(args)
    return root, args


def test_all_models_are_trained_evaluated_and_reported(finished):
    root, _ = finished
    out = root / "results" / "t"
    table = pd.read_csv(out / "table1.csv")
    assert list(table["model"]) == [*DEFAULT_MODELS, "no edit", "mean face (train)", "real"]
    md = (out / "table1.md").read_text()
    assert "SIMULATED crowd labels" in md and "held-out subjects" in md
    meta = json.loads((out / "run.json").read_text())
    assert meta["command"].startswith("python -m legan.compare --preset smoke")
    assert len(meta["evalset_hash"]) == 64 and meta["wall_seconds"] > 0 and meta["git_commit"]
    assert set(meta["evalset"]["subjects"]) == {"train", "val", "test"}
    for name in ("grid.png", "curves.png"):
        assert (out / name).stat().st_size > 0
    for model in DEFAULT_MODELS:
        pngs = list((root / "runs" / "t" / "eval" / "outputs" / model).glob("*.png"))
        assert len(pngs) == meta["evalset"]["pairs"]["test"]


def test_a_second_run_resumes_from_checkpoints(finished):
    root, args = finished
    checkpoints = sorted((root / "runs" / "t" / "models" / "legan" / "checkpoints").glob("*.pt"))
    before = {p: p.stat().st_mtime_ns for p in checkpoints}
    main(args)
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == before
    main(args + ["--evaluate-only"])  # a new table from the same checkpoints
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == before
    meta = json.loads((root / "results" / "t" / "run.json").read_text())
    assert meta["trained_by"]["command"].startswith("python -m legan.compare --preset smoke")


def test_evaluate_only_refuses_what_was_never_trained(finished, tmp_path):
    _, args = finished
    with pytest.raises(SystemExit, match="has no checkpoint"):
        runs = args.index("--runs") + 1
        main(args[:runs] + [str(tmp_path)] + args[runs + 1:] + ["--evaluate-only"])


def test_the_baseline_is_stargan_as_its_authors_train_it(finished):
    root, args = finished
    plan = parse_args(args)
    evalset = prepare_evalset(plan)
    q = root / "q.pt"
    for model in DEFAULT_MODELS:
        config = model_config(plan, evalset, model, q)
        assert config.model.arch == ("stargan" if model.startswith("stargan") else "legan")
        assert (config.loss.lambda_qual > 0) == (model in ("legan", "stargan_qual"))
        assert config.validation_pairs and config.max_iterations == plan.preset.iterations
    stargan = model_config(plan, evalset, "stargan", q).loss
    assert {k: getattr(stargan, k) for k in STARGAN_AUTHORS_LOSS} == STARGAN_AUTHORS_LOSS
    legan = model_config(plan, evalset, "legan", q).loss
    assert (legan.lambda_cls, legan.lambda_id, legan.lambda_tv) == (20.0, 10.0, 1e-7)
    v2 = model_config(plan, evalset, "stargan_v2", q)
    assert v2.model.arch == "stargan-v2" and v2.loss.lambda_qual == 0 and v2.loss.lambda_id == 0
    # one StarGAN v2 iteration updates G once: as many generator updates as the others get
    assert v2.max_iterations == max(1, plan.preset.iterations // plan.preset.n_critic)
