"""Each generator architecture reproduces held-out images when asked for their own attributes."""

import pytest
import torch
import torch.nn.functional as F

from legan.arch import ModelConfig
from legan.sanity import check_reconstruction

torch.set_num_threads(1)
SIZE = 32


class DrawnFaces(torch.utils.data.Dataset):
    """Made-up faces as LeganDataset items: every image its own head shape and position, skin
    tone, eye and mouth placement and light direction, so only a generator that passes its input
    through can reproduce held-out ones (the mean face scores low)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        u = lambda lo, hi: float(lo + (hi - lo) * torch.rand((), generator=g))  # noqa: E731
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")
        self.items = []
        for i in range(n):
            cy, cx = u(-0.15, 0.15), u(-0.15, 0.15)
            head = ((yy - cy) / u(0.55, 0.85)) ** 2 + ((xx - cx) / u(0.4, 0.65)) ** 2 <= 1
            img = torch.full((3, SIZE, SIZE), -0.8)
            skin = torch.tensor([u(0.3, 0.7), u(0.0, 0.4), u(-0.3, 0.1)])
            img[:, head] = skin[:, None]
            eye_y, eye_dx = cy - u(0.1, 0.3), u(0.18, 0.32)
            for side in (-1, 1):
                eye = ((yy - eye_y) / 0.08) ** 2 + ((xx - cx - side * eye_dx) / 0.12) ** 2 <= 1
                img[:, eye] = -0.9
            mouth = ((yy - cy - u(0.25, 0.45)).abs() < u(0.04, 0.12)) & ((xx - cx).abs() < u(0.1, 0.35))
            img[:, mouth] = u(-0.8, -0.2)
            angle = u(0, 6.28)
            light = u(0.0, 0.5) * (torch.cos(torch.tensor(angle)) * xx + torch.sin(torch.tensor(angle)) * yy)
            img = F.avg_pool2d((img + light)[None], 3, stride=1, padding=1, count_include_pad=False)[0]
            self.items.append({"image": img.clamp(-1, 1), "expression": i % 2, "lighting": i % 3})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


@pytest.fixture(scope="module")
def faces():
    return DrawnFaces(200, seed=0), DrawnFaces(40, seed=1)


@pytest.mark.parametrize("arch", ["legan", "stargan"])
def test_generator_reproduces_heldout_images_from_reconstruction_alone(faces, arch):
    train, heldout = faces
    model = ModelConfig(arch=arch, g_channels=16, g_res_blocks=1)
    result = check_reconstruction(model, train, heldout, n_expressions=2, n_lightings=3, steps=500, lr=1e-3)
    assert result.heldout_ssim > 0.9, result


def test_a_generator_that_drops_its_input_fails_the_check(faces):
    """The check can fail: with a fresh (untrained) generator the held-out SSIM is low."""
    train, heldout = faces
    result = check_reconstruction(ModelConfig(arch="legan", g_channels=16, g_res_blocks=1), train, heldout,
                                  n_expressions=2, n_lightings=3, steps=0)
    assert result.heldout_ssim < 0.5
