"""Checks that need a CUDA device (skipped without one; `scripts/gpu-check` runs them).

They import only the pure packages (legan, quality) and torch: no Django, no database.
GPU_CHECK_TEST_DEVICE=cpu runs the same code paths on the CPU, to check the tests themselves.
"""

import os
import warnings

import pytest
import torch

from legan import build
from runkit.checkpoints import capture_rng, restore_cuda_rng, restore_rng
from legan.loss import LeganLoss, LossConfig
from tests.legan.core_fixtures import SIZE, tiny_config, tiny_identity_net, tiny_quality_net

FORCED = os.environ.get("GPU_CHECK_TEST_DEVICE")
DEVICE = torch.device(FORCED or "cuda")
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not FORCED and not torch.cuda.is_available(), reason="needs a CUDA device")]
CUDA = DEVICE.type == "cuda"


def _raw_batch(b=4, size=SIZE, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    mask = ((((yy - size / 2) / (0.45 * size)) ** 2 + ((xx - size / 2) / (0.38 * size)) ** 2) <= 1).float()
    return {"image": torch.rand(b, 3, size, size, generator=g) * 2 - 1, "mask": mask[None, None].repeat(b, 1, 1, 1),
            "expression": torch.randint(3, (b,), generator=g), "lighting": torch.randint(3, (b,), generator=g)}


def _loss(device, dtype, cfg=None):
    cfg = cfg or tiny_config(device=str(device))
    G, D = build.build_networks(cfg, device)
    loss = LeganLoss(G, D, n_expressions=3, config=LossConfig(quality_input_size=SIZE),
                     identity_net=tiny_identity_net().to(device), quality_net=tiny_quality_net().to(device),
                     autocast_dtype=dtype)
    return G, D, loss


def test_bf16_step_on_the_device_matches_fp32_on_the_cpu():
    cpu_batch = build.prepare_batch(_raw_batch(), torch.device("cpu"), torch.Generator().manual_seed(1), 3, 3)
    dev_batch = build.prepare_batch(_raw_batch(), DEVICE, torch.Generator().manual_seed(1), 3, 3,
                                    channels_last=CUDA)
    _, _, ref = _loss(torch.device("cpu"), None, tiny_config(device="cpu"))
    _, _, amp = _loss(DEVICE, torch.bfloat16)
    for phase, batch_ref, batch_dev in (("D", cpu_batch, dev_batch), ("G", cpu_batch, dev_batch)):
        want = ref.accumulate_gradients(phase, batch_ref)
        got = amp.accumulate_gradients(phase, batch_dev)
        for k, v in want.items():
            assert torch.isfinite(got[k]).all(), k
            assert float(got[k]) == pytest.approx(float(v), rel=0.03, abs=2e-3), k


def test_channels_last_and_fused_adam_are_used_on_cuda():
    cfg = tiny_config(device=str(DEVICE))
    G, D = build.build_networks(cfg, DEVICE)
    opt_G, opt_D = build.build_optimizers(cfg, G, D)
    conv = next(m for m in G.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) == CUDA
    assert bool(opt_G.defaults.get("fused")) == CUDA and bool(opt_D.defaults.get("fused")) == CUDA


def test_cuda_rng_state_round_trips_and_extra_saved_devices_are_reported():
    if not CUDA:
        pytest.skip("CUDA RNG only")
    state = capture_rng()
    a = torch.rand(4, device="cuda")
    restore_rng(state)
    assert torch.equal(torch.rand(4, device="cuda"), a)
    extra = state["cuda"] + [state["cuda"][0]]  # as saved by a run with one more GPU
    message = restore_cuda_rng(extra)
    assert message and f"{len(extra)} device(s)" in message
    assert torch.equal(torch.rand(4, device="cuda"), a)  # device 0 was restored


def test_pinned_loader_batches_arrive_intact_with_non_blocking_copies():
    from legan.distributed import DistContext

    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return {"image": torch.full((3, 8, 8), float(i)), "mask": torch.ones(1, 8, 8), "expression": i % 3,
                    "lighting": i % 3}

    loader, sampler = build.build_loader(Items(), tiny_config(num_workers=2), DistContext(), DEVICE)
    assert loader.pin_memory == CUDA
    sampler.set_position(0)
    seen = []
    for raw in loader:
        batch = build.prepare_batch(raw, DEVICE, torch.Generator().manual_seed(0), 3, 3)
        seen += batch["image"][:, 0, 0, 0].tolist()
    assert sorted(seen) == [float(i) for i in range(8)]


def test_quality_model_trains_a_few_bf16_steps_with_finite_loss():
    from quality.losses import QualityLoss
    from quality.model import QualityConfig, QualityNet
    from quality.runtime import make_autocast

    model = QualityNet(QualityConfig(image_size=32, channels=8, max_channels=32, depth=3, fc_width=16)).to(DEVICE)
    autocast, scaler, mode = make_autocast("bf16", DEVICE)
    assert mode == ("bf16" if CUDA else "off")
    loss = QualityLoss(model, "hinge", autocast)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.rand(8, 3, 32, 32, device=DEVICE) * 2 - 1
    mu, sigma = torch.full((8,), 6.0, device=DEVICE), torch.ones(8, device=DEVICE)
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        stats = loss.accumulate_gradients(images, mu, sigma)
        opt.step()
    assert all(v == v and abs(v) < 1e6 for v in stats.values())


def test_compiled_generator_matches_the_eager_one():
    import shutil

    if CUDA and not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        pytest.skip("torch.compile (Triton) needs a C compiler to build its launcher; none on PATH")
    cfg = tiny_config(device=str(DEVICE), compile=True)
    G, _ = build.build_networks(cfg, DEVICE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = build.compile_generator(G, cfg, backend="inductor" if CUDA else "eager")
        x = torch.rand(2, 3, SIZE, SIZE, device=DEVICE) * 2 - 1
        e, l = torch.tensor([0, 1], device=DEVICE), torch.tensor([2, 0], device=DEVICE)
        with torch.no_grad():
            want, got = G(x, e, l).image, compiled(x, e, l).image
    assert torch.allclose(want, got, atol=1e-3)
