"""The training loader: images decoded once per run and shared by persistent workers, and
augmentation randomness that depends on (seed, epoch, item) only, not on the workers."""

import os

import numpy as np
import torch
from PIL import Image

from legan import build
from legan.data.dataset import LeganDataset
from legan.data.manifest import write_manifest
from legan.distributed import DistContext
from tests.legan.core_fixtures import tiny_config

torch.set_num_threads(1)


def _manifest(folder, n=8, size=32):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"f{i}.png")
        rows.append({"image_path": f"f{i}.png", "subject": f"p{i}", "expression": ["neutral", "smile"][i % 2],
                     "lighting": ["front", "left"][i // 2 % 2]})
    write_manifest(rows, folder / "manifest.csv")
    return folder / "manifest.csv"


def noisy(image, mask):
    """An augmentation drawing from torch's global RNG, as legan.augment.RandomAugment does."""
    noise = torch.randint(-20, 21, image.shape, dtype=torch.int16).numpy()
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _loader(dataset, num_workers, batch_size=4):
    cfg = tiny_config(batch_size=batch_size, num_workers=num_workers, expressions=["neutral", "smile"],
                      lightings=["front", "left"])
    return build.build_loader(dataset, cfg, DistContext(), torch.device("cpu"))


def _epochs(loader, sampler, n):
    out = []
    for epoch in range(n):
        sampler.set_position(epoch)
        out.append([batch["image"].clone() for batch in loader])
    return out


def test_images_are_decoded_once_and_shared_by_persistent_workers(tmp_path):
    manifest = _manifest(tmp_path)
    dataset = LeganDataset(manifest, ["neutral", "smile"], ["front", "left"], image_size=32, cache=True)
    loader, sampler = _loader(dataset, num_workers=2)
    assert loader.persistent_workers and loader.prefetch_factor == 4
    first = _epochs(loader, sampler, 1)[0]
    assert bool(dataset._cache.filled.all())  # filled by the workers, visible here
    for f in tmp_path.glob("f*.png"):
        f.unlink()  # later epochs must not read the files again
    sampler.set_position(0)
    again = [batch["image"] for batch in loader]
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_augmentation_draws_do_not_depend_on_the_number_of_workers(tmp_path):
    manifest = _manifest(tmp_path)
    make = lambda: LeganDataset(manifest, ["neutral", "smile"], ["front", "left"], image_size=32, augment=noisy)
    runs = {}
    for workers in (0, 2):
        loader, sampler = _loader(make(), workers)
        runs[workers] = _epochs(loader, sampler, 2)
    for e in range(2):
        assert all(torch.equal(a, b) for a, b in zip(runs[0][e], runs[2][e]))
    # ... and differ between epochs (the seed follows the epoch)
    assert not torch.equal(torch.cat(runs[0][0]).sort(0).values, torch.cat(runs[0][1]).sort(0).values)


def test_workers_persist_across_epochs(tmp_path):
    class Pid(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return {"image": torch.tensor(os.getpid())}

    loader, sampler = _loader(Pid(), num_workers=2)
    pids = [{int(p) for b in epoch for p in b} for epoch in _epochs(loader, sampler, 2)]
    assert pids[0] == pids[1] and os.getpid() not in pids[0]


def test_cli_flags_reach_the_config(tmp_path):
    from legan.train_cli import build_parser, config_from_args

    base = ["--manifest", str(_manifest(tmp_path)), "--expressions", "neutral,smile", "--lightings", "front,left"]
    default = config_from_args(build_parser().parse_args(base))
    assert default.cache_images and not default.compile and default.channels_last
    flagged = config_from_args(build_parser().parse_args(base + ["--no-cache-images", "--compile"]))
    assert not flagged.cache_images and flagged.compile
