"""StarGAN v2 under 2 gloo CPU processes: gradients averaged before every step keep the
networks identical in every process, and only rank 0 writes."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from runkit.runs import read_stats

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        import legan.stargan_v2.train as trainer
        from tests.legan.core_fixtures import TinyFaceDataset
        from tests.legan.test_stargan_v2 import v2_config

        seen = {}
        real_update = trainer.update_ema

        def spy(model, ema, beta):  # keep this process's own training networks
            real_update(model, ema, beta)
            seen["nets"] = model

        trainer.update_ema = spy
        result = trainer.train(v2_config(max_iterations=2, batch_size=4, log_every=1), os.path.join(out_dir, "run"),
                       dataset=TinyFaceDataset(n=16))
        # every process's own networks (not the checkpoint, which only rank 0 writes)
        payload = torch.load(result.checkpoint_path, weights_only=False) if rank == 0 else None
        torch.save({"metrics": result.metrics, "ckpt_iteration": payload and payload["iteration"],
                    "nets": seen["nets"].state_dict()},
                   os.path.join(out_dir, f"result-{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_processes_stay_in_sync_and_rank0_writes_once(tmp_path):
    mp.spawn(_worker, args=(WORLD, _free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f"result-{r}.pt", weights_only=False) for r in range(WORLD)]
    assert results[0]["ckpt_iteration"] == 2
    a, b = results[0]["nets"], results[1]["nets"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # different data, same updates
    # the logged losses are averaged over processes, so both ranks report the same numbers
    assert results[0]["metrics"] == {**results[1]["metrics"], "sec_per_iter": results[0]["metrics"]["sec_per_iter"]}
    stats = read_stats(tmp_path / "run" / "stats.jsonl")
    assert [s["iteration"] for s in stats] == [1, 2]
    assert stats[-1]["images_seen"] == 8  # global batch 4 = 2 per process
