"""The run kit every trainer uses: run folders, stats, checkpoint names, RNG, device, stop."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from runkit.checkpoints import (capture_rng, checkpoint_path, latest_checkpoint, list_checkpoints,
                                refuse_used_run_dir, require_latest_checkpoint, restore_rng, save_checkpoint)
from runkit.device import select_device
from runkit.loop import IterationLoop, LoopHooks, StatsMeter, TrainingStopped
from runkit.runs import StatsWriter, make_run_dir, next_run_dir, read_stats


def test_run_folders_are_numbered_past_the_highest(tmp_path):
    assert next_run_dir(tmp_path / "none", "a b") == tmp_path / "none" / "00000-a-b"
    (tmp_path / "00004-old").mkdir()
    assert make_run_dir(tmp_path, "new").name == "00005-new"
    assert make_run_dir(tmp_path, "new").name == "00006-new"
    assert next_run_dir(tmp_path, "").name == "00007-run"


@pytest.mark.parametrize("key", ["step", "iteration"])
def test_resumed_stats_drop_lines_past_the_checkpoint(tmp_path, key):
    writer = StatsWriter(tmp_path / "stats.jsonl", key=key)
    for i in (2, 4, 6):
        writer.write({key: i, "loss": float(i)})
    StatsWriter(tmp_path / "stats.jsonl", resume_at=4, key=key).write({key: 6, "loss": 0.5})
    assert [(r[key], r["loss"]) for r in read_stats(tmp_path / "stats.jsonl")] == [(2, 2.0), (4, 4.0), (6, 0.5)]


def test_checkpoints_one_name_old_names_found_and_pruned(tmp_path):
    (tmp_path / "ckpt-0000005.pt").write_bytes(b"")  # quality, before runkit
    (tmp_path / "step_0000007.pt").write_bytes(b"")  # the colouriser, before runkit
    assert latest_checkpoint(tmp_path).name == "step_0000007.pt"
    path = save_checkpoint(checkpoint_path(tmp_path, 12), {"step": 12}, keep=2)
    assert path.name == "checkpoint-00000012.pt" and torch.load(path)["step"] == 12
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_0000007.pt", "checkpoint-00000012.pt"]
    assert not list(tmp_path.glob("*.tmp"))
    assert latest_checkpoint(tmp_path / "empty") is None
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        require_latest_checkpoint(tmp_path / "empty")
    with pytest.raises(ValueError, match="already holds checkpoints"):
        refuse_used_run_dir(tmp_path.parent, tmp_path, resume=False)
    refuse_used_run_dir(tmp_path.parent, tmp_path, resume=True)


def test_rng_capture_restores_every_stream():
    extra = torch.Generator().manual_seed(3)
    state = capture_rng(extra)
    first = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=extra).item())
    restore_rng(state, extra)
    assert (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=extra).item()) == first


def test_device_choice_and_a_clear_error_without_cuda():
    assert select_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert select_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda:1")


def test_training_stopped_carries_step_and_checkpoint_under_both_names(tmp_path):
    stop = TrainingStopped(7, tmp_path / "c.pt")
    assert (stop.step, stop.iteration, stop.checkpoint_path, stop.checkpoint) == (7, 7, tmp_path / "c.pt",
                                                                                  tmp_path / "c.pt")


def test_stats_meter_averages_and_survives_a_checkpoint():
    meter = StatsMeter()
    meter.add({"a": torch.tensor(1.0)})
    meter.add({"a": torch.tensor(3.0)})
    restored = StatsMeter()
    restored.load(meter.state(), torch.device("cpu"))
    assert restored.pop_means() == {"a": 2.0} and restored.pop_means() == {}


def run_loop(total, stop_at=None, start=0, **intervals):
    calls = []
    hooks = LoopHooks(
        # a line due only for its validation carries no timing (sec is None)
        log=lambda i, done, sec, val: calls.append(("log" if sec is not None else "validation", i, done,
                                                    bool(val))) or {"iteration": i},
        checkpoint=lambda i: calls.append(("checkpoint", i)) or f"ckpt-{i}",
        sample=lambda i: calls.append(("sample", i)),
        validate=lambda: {"Val/x": 1.0},
        stop_requested=lambda: stop_at is not None and loop.iteration >= stop_at)
    loop = IterationLoop(hooks, start=start, total=total, per_epoch=3, **intervals)
    positions = []
    for epoch, offset in loop.positions():
        positions.append((epoch, offset))
        for _ in range(offset, 3):
            loop.begin_iteration()  # asks for a stop only with stop_before_step
            if loop.end_iteration():
                break
    return loop, calls, positions


def test_iteration_loop_does_what_is_due_and_resumes_mid_epoch():
    loop, calls, positions = run_loop(5, start=1, log_every=2, sample_every=4, checkpoint_every=3,
                                      validate_every=4)
    assert positions == [(0, 1), (1, 0)]
    assert calls == [("log", 2, False, False), ("checkpoint", 3), ("log", 4, False, False), ("sample", 4),
                     ("log", 5, True, True), ("sample", 5), ("checkpoint", 5)]
    assert loop.iteration == 5 and loop.last_checkpoint == "ckpt-5" and loop.last_log == {"iteration": 5}


def test_iteration_loop_checkpoints_then_raises_on_a_requested_stop():
    with pytest.raises(TrainingStopped) as stopped:
        run_loop(10, stop_at=2, log_every=5, sample_every=5, checkpoint_every=5)
    assert stopped.value.step == 2 and stopped.value.checkpoint_path == "ckpt-2"


def test_iteration_loop_can_validate_on_its_own_interval():
    _, calls, _ = run_loop(6, log_every=2, sample_every=0, checkpoint_every=0, validate_every=3,
                           validate_apart=True)
    # a line when a log or a validation is due, one line when both are
    assert [c for c in calls if c[0] in ("log", "validation")] == [
        ("log", 2, False, False), ("validation", 3, False, True), ("log", 4, False, False),
        ("log", 6, True, True)]


def test_iteration_loop_can_ask_for_a_stop_before_each_step():
    # asked before the first step: stops with none taken, after checkpointing where it stands
    with pytest.raises(TrainingStopped) as stopped:
        run_loop(10, stop_at=0, log_every=5, sample_every=5, checkpoint_every=5, stop_before_step=True)
    assert stopped.value.step == 0 and stopped.value.checkpoint_path == "ckpt-0"
    with pytest.raises(TrainingStopped) as stopped:
        run_loop(10, stop_at=2, start=1, log_every=5, sample_every=5, checkpoint_every=5, stop_before_step=True)
    assert stopped.value.step == 2 and stopped.value.checkpoint_path == "ckpt-2"
    # after the last step nobody asks: the run ends, it is not stopped
    loop, calls, _ = run_loop(3, stop_at=3, log_every=5, sample_every=5, checkpoint_every=5, stop_before_step=True)
    assert loop.iteration == 3 and calls[-1] == ("checkpoint", 3)


def test_provenance_names_the_commit_and_the_machine(tmp_path):
    from runkit.provenance import device_description, git_commit

    commit = git_commit()
    assert commit == "unknown" or len(commit.removesuffix("-dirty")) == 40
    assert git_commit(tmp_path) == "unknown"  # not a checkout
    assert device_description("cpu").startswith("cpu (") and "torch threads" in device_description("cpu")
