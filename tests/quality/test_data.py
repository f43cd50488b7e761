import pytest
import torch

from quality.data import QualityDataset, random_mirror
from faces.errors import UnreadableImageError
from quality.labels import load_labels
from tests.quality.conftest import write_rgb


def test_items_are_normalised_tensors_with_labels(sim_export):
    path, _, _ = sim_export
    ds = QualityDataset(load_labels(path), image_size=32)
    image, mu, sigma = ds[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert image.min() >= -1.0 and image.max() <= 1.0
    assert mu.dtype == torch.float32 and 0.0 <= mu.item() <= 10.0 and sigma.item() >= 0.0


def test_other_sizes_are_resized_to_the_model_input(sim_export):
    path, _, _ = sim_export
    image, _, _ = QualityDataset(load_labels(path), image_size=16)[0]
    assert image.shape == (3, 16, 16)


def test_corrupt_image_error_names_the_file(tmp_path):
    write_rgb(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated garbage")
    (tmp_path / "labels.csv").write_text("image_path,mu,sigma\ngood.png,5,1\nbad.png,5,1\n")
    ds = QualityDataset(load_labels(tmp_path / "labels.csv"), image_size=32)
    ds[0]
    with pytest.raises(UnreadableImageError, match="could not decode image file .*bad.png"):
        ds[1]


def test_random_mirror_flips_horizontally_and_is_reproducible():
    images = torch.arange(2 * 3 * 2 * 4, dtype=torch.float32).reshape(2, 3, 2, 4)
    a = random_mirror(images, torch.Generator().manual_seed(5))
    b = random_mirror(images, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    for i in range(2):  # each image is either untouched or exactly mirrored
        assert torch.equal(a[i], images[i]) or torch.equal(a[i], images[i].flip(-1))
    flips = [not torch.equal(random_mirror(images, torch.Generator().manual_seed(s))[0], images[0])
             for s in range(40)]
    assert 5 < sum(flips) < 35
