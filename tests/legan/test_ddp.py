"""DistributedDataParallel with 2 gloo CPU processes: same gradients as one process on the same
global batch, and the trainer runs under DDP with only rank 0 writing."""

import socket

import pytest
import torch
import torch.multiprocessing as mp

from legan import build
from runkit.runs import read_stats
from tests.legan import ddp_worker
from tests.legan.core_fixtures import tiny_config

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(ddp_worker.worker, args=(WORLD, _free_port(), str(out)), nprocs=WORLD, join=True)
    return out


def test_ddp_gradients_match_single_process_on_the_same_global_batch(ddp_outputs):
    torch.set_num_threads(1)
    G, D = build.build_networks(tiny_config(), torch.device("cpu"))
    single = ddp_worker.phase_gradients(G, D, ddp_worker.global_batch())
    for rank in range(WORLD):
        ddp = torch.load(ddp_outputs / f"grads-{rank}.pt")
        for tag in ("D1", "G", "D2"):
            assert ddp[tag].keys() == single[tag].keys()
            for name, grad in single[tag].items():
                # float32 sums in a different order: compare relative to the tensor's scale
                scale = grad.abs().max().item()
                assert (ddp[tag][name] - grad).abs().max().item() <= 1e-4 * scale + 1e-8, (tag, name)
            assert any(g.abs().sum() > 0 for g in single[tag].values())


def test_trainer_under_ddp_keeps_processes_in_sync_and_writes_once(ddp_outputs):
    runs = [torch.load(ddp_outputs / f"train-{rank}.pt", weights_only=False) for rank in range(WORLD)]
    assert all(torch.equal(runs[0]["G"][k], runs[1]["G"][k]) for k in runs[0]["G"])
    assert runs[0]["metrics"]["iteration"] == 4
    run = ddp_outputs / "run"
    stats = read_stats(run / "stats.jsonl")
    assert [s["iteration"] for s in stats] == [2, 4]  # one writer: no duplicated lines
    # 16 images, global batch 4 -> 2 per process, 16 / 2 processes / 2 = 4 batches per epoch
    assert stats[-1]["epoch"] == 1.0 and stats[-1]["images_seen"] == 16
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoint-00000004.pt"]
