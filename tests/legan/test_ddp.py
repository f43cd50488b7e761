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


def test_two_process_training_gives_the_losses_of_one_process_on_the_same_global_batch(ddp_outputs, tmp_path):
    """The paper's setting, scaled: the same global batch, split over 2 gloo processes, trains
    like one process taking the whole batch (same data order, targets and GP weights)."""
    from legan.train import train
    from tests.legan.core_fixtures import TinyFaceDataset, tiny_identity_net, tiny_quality_net

    torch.set_num_threads(1)
    single = train(tiny_config(max_iterations=4, batch_size=4, log_every=2), run_dir=tmp_path / "single",
                   dataset=TinyFaceDataset(n=16), identity_net=tiny_identity_net(), quality_net=tiny_quality_net())
    one = read_stats(tmp_path / "single" / "stats.jsonl")
    two = read_stats(ddp_outputs / "run" / "stats.jsonl")
    assert [s["iteration"] for s in one] == [s["iteration"] for s in two]
    for a, b in zip(one, two):
        losses = [k for k in a if k.startswith("Loss/")]
        assert "Loss/G/qual" in losses and "Loss/D/gp" in losses
        for k in losses:
            assert b[k] == pytest.approx(a[k], rel=1e-4, abs=1e-5), (a["iteration"], k)
    # (Weights are not compared: Adam divides by sqrt(v), so a weight whose gradient is ~0 can
    # move by up to lr per step on float-rounding noise alone; the gradients are compared above.)


def test_loader_workers_get_different_seeds_on_each_rank():
    """Each rank's workers start from their own seed (the same on every run)."""
    from legan.distributed import DistContext

    class WorkerSeed(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return torch.utils.data.get_worker_info().seed

    def first_seed(rank):
        cfg = tiny_config(batch_size=4, num_workers=1)
        loader, _ = build.build_loader(WorkerSeed(), cfg, DistContext(rank=rank, world_size=WORLD),
                                       torch.device("cpu"))
        return int(next(iter(loader))[0])

    assert first_seed(0) != first_seed(1)
    assert first_seed(1) == first_seed(1)


def test_ranks_take_contiguous_slices_of_the_same_global_batch():
    from legan.distributed import ResumableSampler

    data = list(range(10))
    one = list(ResumableSampler(data, num_replicas=1, rank=0, seed=3, batch_size=4))
    ranks = [list(ResumableSampler(data, num_replicas=2, rank=r, seed=3, batch_size=2)) for r in range(2)]
    assert len(one) == 8 and all(e == 0 for _, e in one)
    for k in range(2):  # global batch k = rank 0's batch k followed by rank 1's
        assert one[4 * k:4 * k + 4] == ranks[0][2 * k:2 * k + 2] + ranks[1][2 * k:2 * k + 2]


def test_a_global_batch_that_does_not_divide_over_the_processes_is_refused():
    from legan.config import ConfigError, validate

    with pytest.raises(ConfigError, match=r"global batch .* multiple of the number of processes \(4\).*--batch-size 40"):
        validate(tiny_config(batch_size=10), world_size=4, check_manifest=False, check_q_checkpoint=False)
    validate(tiny_config(batch_size=40), world_size=4, check_manifest=False, check_q_checkpoint=False)
