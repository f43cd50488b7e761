"""legan.metrics: each metric against an independent reference, honest unavailability, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity

from legan.identity import get_identity_network
from legan.loss_terms import apply_mask
from legan.metrics import (
    MetricUnavailableError,
    available_metrics,
    bootstrap_interval,
    build_metric,
    build_preferred,
    frechet_distance,
    frechet_distance_features,
    percentile_interval,
    train_attribute_classifier,
)
from legan.metrics.attributes import ERR_OVERLAP, evaluate_attribute_classifier
from legan.metrics.fid import INCEPTION_ENV, INCEPTION_FILE
from legan.metrics.lpips import ALEXNET_ENV, ALEXNET_FILE, normalised_feature_distance
from tests.legan.core_fixtures import EXPRESSIONS, LIGHTINGS, TinyFaceDataset, _base_face

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    # Several test processes share two cores; spinning OpenMP threads stall badly then.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def faces(n: int, size: int = 48, seed: int = 0, noise: float = 0.15) -> torch.Tensor:
    """(n, 3, size, size) in [-1, 1]: a real face photo, each copy shifted, shaded and noised differently."""
    g = torch.Generator().manual_seed(seed)
    base = _base_face(size)
    out = []
    for i in range(n):
        img = torch.roll(base, shifts=(i % 3 - 1, i % 5 - 2), dims=(1, 2))
        ramp = torch.linspace(-1, 1, size)[None, None, :] * (0.3 * torch.rand(1, generator=g) - 0.15)
        out.append((img + ramp + noise * torch.randn(3, size, size, generator=g)).clamp(-1, 1))
    return torch.stack(out)


@pytest.fixture(scope="module")
def pairs() -> tuple[torch.Tensor, torch.Tensor]:
    output = faces(6, seed=1)
    target = faces(6, seed=2, noise=0.05)
    target[3:] = target[3:].flip(-1).roll(4, dims=2)  # some pairs far apart
    return output, target


@pytest.fixture(scope="module")
def dlib_net():
    return get_identity_network("dlib").eval()


# ------------------------------------------------------------------------- registry


def test_registry_lists_every_metric_and_rejects_unknown_names_and_options():
    assert set(available_metrics()) >= {"ssim", "lpips", "lpips-proxy", "match", "verified", "quality", "attributes",
                                        "fid", "fd-dlib128"}
    with pytest.raises(ValueError, match="unknown metric 'psnr'.*ssim"):
        build_metric("psnr")
    with pytest.raises(ValueError, match="does not take these options"):
        build_metric("ssim", "cpu", window=7)


def test_display_names_say_which_backend_computed_the_number():
    assert build_metric("fd-dlib128").display_name == "FD-dlib128"
    assert build_metric("lpips-proxy").display_name == "LPIPS-proxy"
    assert build_metric("match", backend="dlib").display_name == "match (dlib128, Pearson)"
    assert build_metric("verified", backend="dlib").display_name == "verified (dlib128, distance < 0.6)"


def test_images_outside_minus_one_one_or_of_wrong_shape_are_rejected(pairs):
    metric = build_metric("ssim")
    with pytest.raises(ValueError, match=r"\[-1, 1\].*\[0, 255\]"):
        metric.update(pairs[0] * 127.5 + 127.5, pairs[1])
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        metric.update(pairs[0][:, :1], pairs[1][:, :1])
    with pytest.raises(ValueError, match="differ in shape"):
        metric.update(pairs[0], pairs[1][:, :, :32, :32])
    assert metric.values().size == 0  # nothing half-recorded


# ----------------------------------------------------------------------------- SSIM


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [32, 48])
def test_ssim_equals_scikit_image(size, device):
    output, target = faces(4, size, seed=3), faces(4, size, seed=4, noise=0.3)
    target[0] = F.avg_pool2d(output[:1], 3, 1, 1)[0]  # a blurred copy: a high, non-trivial SSIM
    metric = build_metric("ssim", device)
    metric.update(output, target)
    expected = [structural_similarity(((o + 1) / 2).double().numpy(), ((t + 1) / 2).double().numpy(),
                                      gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
                                      channel_axis=0) for o, t in zip(output, target)]
    np.testing.assert_allclose(metric.values(), expected, atol=1e-4)
    assert metric.values()[0] > 0.6 > metric.values()[1]


def test_ssim_of_an_image_with_itself_is_one(pairs):
    metric = build_metric("ssim")
    metric.update(pairs[0], pairs[0])
    np.testing.assert_allclose(metric.values(), 1.0, atol=1e-6)


@pytest.mark.parametrize("name", ["ssim", "lpips-proxy", "match", "verified", "quality"])
def test_streaming_updates_equal_one_big_update(name, pairs, tmp_path):
    options = {"checkpoint": _save_quality_checkpoint(tmp_path)} if name == "quality" else {}
    once, streamed = build_metric(name, **options), build_metric(name, **options)
    once.update(*pairs)
    for start in (0, 1, 4):
        stop = {0: 1, 1: 4, 4: 6}[start]
        streamed.update(pairs[0][start:stop], pairs[1][start:stop])
    np.testing.assert_allclose(streamed.values(), once.values(), atol=1e-5)
    assert streamed.values().shape == (6,)
    streamed.reset()
    assert streamed.values().size == 0


# ------------------------------------------------------------------- match, verified


def test_match_is_pearson_correlation_of_dlib_descriptors(pairs, dlib_net):
    metric = build_metric("match", backend="dlib")
    metric.update(*pairs)
    with torch.no_grad():
        a, b = dlib_net(pairs[0]).double().numpy(), dlib_net(pairs[1]).double().numpy()
    expected = [scipy.stats.pearsonr(x, y).statistic for x, y in zip(a, b)]
    np.testing.assert_allclose(metric.values(), expected, atol=1e-5)
    assert metric.values()[:3].min() > metric.values()[3:].max()  # the mirrored, shifted targets match worse


def test_verified_is_dlibs_distance_rule(pairs, dlib_net):
    metric = build_metric("verified", backend="dlib")
    metric.update(*pairs)
    with torch.no_grad():
        distance = (dlib_net(pairs[0]) - dlib_net(pairs[1])).norm(dim=1).numpy()
    np.testing.assert_array_equal(metric.values(), (distance < 0.6).astype(float))
    metric.reset()
    metric.update(pairs[0], pairs[0])
    np.testing.assert_array_equal(metric.values(), 1.0)


def test_resnet50_backend_without_weights_is_unavailable_not_dlib(monkeypatch, tmp_path):
    monkeypatch.delenv("FACES_RESNET50_WEIGHTS", raising=False)
    metric = build_metric("match", backend="resnet50")
    assert not metric.available and "FACES_RESNET50_WEIGHTS" in metric.unavailable_reason
    missing = tmp_path / "resnet50_ft.pkl"
    monkeypatch.setenv("FACES_RESNET50_WEIGHTS", str(missing))
    metric = build_metric("match")  # auto: the configured backend, even though its file is missing
    assert metric.display_name == "match (ResNet50-VGGFace2, Pearson)"
    assert not metric.available and str(missing) in metric.unavailable_reason
    with pytest.raises(MetricUnavailableError, match="resnet50_ft.pkl"):
        metric.values()


def test_resnet50_backend_computes_pearson_of_its_features(monkeypatch, tmp_path, pairs):
    from faces.resnet50 import resnet50_vggface2

    torch.manual_seed(0)
    model = resnet50_vggface2().eval()
    path = tmp_path / "resnet50.pt"
    torch.save(model.state_dict(), path)
    monkeypatch.setenv("FACES_RESNET50_WEIGHTS", str(path))
    metric = build_metric("match")
    metric.update(pairs[0][:2], pairs[1][:2])
    with torch.no_grad():
        def features(x):
            x = F.interpolate((x + 1) * 127.5, size=(224, 224), mode="bilinear", align_corners=False, antialias=False)
            mean = torch.tensor((91.4953, 103.8827, 131.0912)).view(1, 3, 1, 1)
            return model(x.flip(1) - mean).double().numpy()
        a, b = features(pairs[0][:2]), features(pairs[1][:2])
    np.testing.assert_allclose(metric.values(), [scipy.stats.pearsonr(x, y).statistic for x, y in zip(a, b)],
                               atol=1e-5)
    verified = build_metric("verified")
    assert not verified.available and "threshold" in verified.unavailable_reason


# ------------------------------------------------------------------------------ LPIPS


def test_lpips_proxy_is_the_unweighted_lpips_formula_on_dlib_levels(pairs, dlib_net):
    metric = build_metric("lpips-proxy")
    metric.update(*pairs)

    def levels(x):  # the port run block by block, without the metric's hooks
        backbone = dlib_net.backbone
        h = (dlib_net.to_backbone_input(x) - backbone.mean_rgb) / 256.0
        h = F.max_pool2d(F.relu(backbone.stem_affine(backbone.stem_conv(h))), 3, 2)
        out = []
        for i, block in enumerate(backbone.blocks):
            h = block(h)
            if i in (2, 6, 9, 12):
                out.append(h.double().numpy())
        return out

    with torch.no_grad():
        la, lb = levels(pairs[0]), levels(pairs[1])
    expected = np.zeros(len(pairs[0]))
    for fa, fb in zip(la, lb):
        ua = fa / (np.linalg.norm(fa, axis=1, keepdims=True) + 1e-10)
        ub = fb / (np.linalg.norm(fb, axis=1, keepdims=True) + 1e-10)
        expected += ((ua - ub) ** 2).sum(axis=1).mean(axis=(1, 2)) / len(la)
    np.testing.assert_allclose(metric.values(), expected, rtol=1e-4, atol=1e-6)


def test_lpips_proxy_is_zero_for_identical_images_and_grows_with_distortion():
    clean = faces(2, seed=5, noise=0.0)
    metric = build_metric("lpips-proxy")
    metric.update(clean, clean)
    np.testing.assert_allclose(metric.values(), 0.0, atol=1e-6)
    g = torch.Generator().manual_seed(0)
    distances = []
    for level in (0.05, 0.2, 0.5):
        metric.reset()
        metric.update((clean + level * torch.randn(clean.shape, generator=g)).clamp(-1, 1), clean)
        distances.append(metric.values().mean())
    assert distances[0] < distances[1] < distances[2]


def test_normalised_feature_distance_ignores_channel_scale():
    a = torch.rand(2, 8, 5, 5)
    b = torch.rand(2, 8, 5, 5)
    np.testing.assert_allclose(normalised_feature_distance([a], [b]), normalised_feature_distance([3 * a], [b]),
                               rtol=1e-5)


def test_lpips_without_its_package_or_weights_is_unavailable_and_names_the_files(monkeypatch, tmp_path, pairs):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(ALEXNET_ENV, raising=False)
    metric = build_metric("lpips")
    assert not metric.available
    reason = metric.unavailable_reason
    assert str(tmp_path / "hub" / "checkpoints" / ALEXNET_FILE) in reason
    try:
        import torchvision  # noqa: F401
    except ImportError:
        assert "'torchvision' package is not importable" in reason
    with pytest.raises(MetricUnavailableError, match="LPIPS is unavailable"):
        metric.update(*pairs)
    with pytest.raises(MetricUnavailableError):
        metric.values()


def test_build_preferred_falls_back_visibly_to_the_named_proxy(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    metric, skipped = build_preferred("lpips")
    if skipped:  # the real LPIPS is not installed here: the proxy, under its own name, and why
        assert metric.display_name == "LPIPS-proxy" and metric.available
        assert [s.display_name for s in skipped] == ["LPIPS"] and skipped[0].unavailable_reason
    metric, skipped = build_preferred("fid")
    assert metric.display_name == "FD-dlib128" and [s.name for s in skipped] == ["fid"]


# ------------------------------------------------------------------ Fréchet distances


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_equals_the_sqrtm_formula_for_full_covariances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_of_two_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = np.zeros(4), np.array([1.0, 0.0, -1.0, 0.5])
    sd1, sd2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([1.5, 1.0, 0.5, 2.0])
    x = mu1 + sd1 * rng.normal(size=(40000, 4))
    y = mu2 + sd2 * rng.normal(size=(40000, 4))
    closed = ((mu1 - mu2) ** 2).sum() + ((sd1 - sd2) ** 2).sum()
    assert frechet_distance_features(x, y) == pytest.approx(closed, abs=0.05)
    assert abs(frechet_distance_features(x, x)) < 1e-8
    # a set with an independent sample of its own distribution: near 0
    assert frechet_distance_features(x, mu1 + sd1 * rng.normal(size=(40000, 4))) < 0.01


def test_frechet_distance_is_defined_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 128))
    value = frechet_distance_features(x, x + 1.0)
    assert np.isfinite(value) and value == pytest.approx(128.0, rel=1e-6)  # a pure mean shift of 1 per dimension
    with pytest.raises(ValueError, match="same D"):
        frechet_distance_features(x, x[:, :64])


def test_fd_dlib128_is_the_frechet_distance_of_dlib_descriptors_and_streams(dlib_net):
    real, fake = faces(8, seed=6), faces(6, seed=7, noise=0.3).flip(-1)
    metric = build_metric("fd-dlib128")
    for chunk in real.split(3):
        metric.update_real(chunk)
    metric.update_fake(fake[:4])
    metric.update_fake(fake[4:])
    with torch.no_grad():
        expected = frechet_distance_features(dlib_net(real).double().numpy(), dlib_net(fake).double().numpy())
    assert metric.compute() == pytest.approx(expected, rel=1e-4)
    boot = metric.bootstrap(20, seed=3)
    assert boot.shape == (20,) and np.all(np.isfinite(boot)) and boot.std() > 0
    np.testing.assert_array_equal(boot, metric.bootstrap(20, seed=3))
    same = build_metric("fd-dlib128")
    same.update_real(real)
    same.update_fake(real)
    assert abs(same.compute()) < 1e-6 < expected
    metric.reset()
    with pytest.raises(ValueError, match="no images"):
        metric.compute()


def test_fid_without_weights_is_unavailable_and_never_downloads(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("FID tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    metric = build_metric("fid")
    assert metric.display_name == "FID" and not metric.available
    assert str(tmp_path / "hub" / "checkpoints" / INCEPTION_FILE) in metric.unavailable_reason
    with pytest.raises(MetricUnavailableError, match="FID is unavailable"):
        metric.update_real(faces(2))
    custom = tmp_path / "inception.pth"
    metric = build_metric("fid", weights_path=custom)
    assert str(custom) in metric.unavailable_reason


# ---------------------------------------------------------------------------- quality


def _save_quality_checkpoint(tmp_path, size: int = 32):
    from quality.model import QualityConfig, QualityNet

    torch.manual_seed(7)
    net = QualityNet(QualityConfig(image_size=size, channels=4, max_channels=16, depth=3, fc_width=8))
    path = tmp_path / "q.pt"
    torch.save({"model": net.state_dict(), "model_config": net.config.to_dict()}, path)
    return path


def test_quality_is_q_on_hull_masked_images_at_its_input_size(tmp_path, pairs):
    from quality.checkpoint import load_quality_model

    path = _save_quality_checkpoint(tmp_path)
    q = load_quality_model(path)
    images = pairs[0]  # 48 px; Q reads 32 px
    mask = TinyFaceDataset(n=1, size=48).items[0]["mask"][None].expand(len(images), 1, 48, 48)
    metric = build_metric("quality", checkpoint=path)
    metric.update(images, mask=mask)
    with torch.no_grad():
        masked = images * mask - (1 - mask)
        expected = q(F.interpolate(masked, size=(32, 32), mode="bilinear", align_corners=False)).numpy()
    np.testing.assert_allclose(metric.values(), expected, rtol=1e-5)
    np.testing.assert_allclose(apply_mask(images, mask), masked)
    unmasked = build_metric("quality", checkpoint=path)
    unmasked.update(images)
    assert not np.allclose(unmasked.values(), metric.values())  # the mask is really applied


def test_quality_without_a_checkpoint_is_unavailable(tmp_path):
    metric = build_metric("quality")
    assert not metric.available and "checkpoint=PATH" in metric.unavailable_reason
    metric = build_metric("quality", checkpoint=tmp_path / "missing.pt")
    assert not metric.available and "missing.pt" in metric.unavailable_reason
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    metric = build_metric("quality", checkpoint=bad)
    assert not metric.available and "bad.pt" in metric.unavailable_reason


# -------------------------------------------------------------------------- bootstrap


def test_bootstrap_interval_brackets_the_mean_and_matches_the_normal_approximation():
    rng = np.random.default_rng(0)
    values = rng.normal(0.6, 0.1, size=400)
    low, high = bootstrap_interval(values, n=2000, seed=1)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert low < values.mean() < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)
    scipy_ci = scipy.stats.bootstrap((values,), np.mean, n_resamples=2000, method="percentile",
                                     random_state=np.random.default_rng(1)).confidence_interval
    assert low == pytest.approx(scipy_ci.low, abs=0.004) and high == pytest.approx(scipy_ci.high, abs=0.004)
    assert bootstrap_interval(values, n=500, seed=4) == bootstrap_interval(values, n=500, seed=4)
    assert percentile_interval(np.arange(101.0), level=0.9) == pytest.approx((5.0, 95.0))
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_interval([])


# ----------------------------------------------------------------- attribute classifier


def _write_manifest(tmp_path, dataset, name):
    from legan.data.images import save_image, save_mask
    from legan.data.manifest import write_manifest

    rows = []
    for i, item in enumerate(dataset.items):
        image = ((item["image"].permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        image_path = tmp_path / "images" / f"{name}_{i}.png"
        mask_path = tmp_path / "masks" / f"{name}_{i}.png"
        save_image(image_path, image)
        save_mask(mask_path, item["mask"][0].numpy() > 0.5)
        rows.append({"image_path": image_path.relative_to(tmp_path).as_posix(), "subject": f"{name}-{item['subject']}",
                     "expression": EXPRESSIONS[item["expression"]], "lighting": LIGHTINGS[item["lighting"]],
                     "mask_path": mask_path.relative_to(tmp_path).as_posix()})
    return write_manifest(rows, tmp_path / f"{name}.csv")


@pytest.fixture(scope="module")
def attribute_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("attributes")
    train = _write_manifest(root, TinyFaceDataset(n=90, seed=0), "train")
    test_set = TinyFaceDataset(n=27, seed=1)
    test = _write_manifest(root, test_set, "test")
    return root, train, test, test_set


def test_attribute_classifier_learns_from_real_training_images_and_reports_held_out_accuracy(attribute_data):
    root, train, test, test_set = attribute_data
    path = train_attribute_classifier(train, EXPRESSIONS, LIGHTINGS, image_size=32, out_path=root / "attr.pt",
                                      iterations=60, seed=0, device="cpu", test_manifest=test, batch_size=32,
                                      channels=16)
    metric = build_metric("attributes", checkpoint=path)
    accuracy = metric.test_accuracy
    assert accuracy["n"] == 27 and accuracy["expression_majority"] == pytest.approx(1 / 3)
    assert accuracy["expression_accuracy"] > 0.8 and accuracy["lighting_accuracy"] > 0.8
    assert evaluate_attribute_classifier(path, test) == accuracy

    images = torch.stack([item["image"] for item in test_set.items])
    expression = torch.tensor([item["expression"] for item in test_set.items])
    lighting = torch.tensor([item["lighting"] for item in test_set.items])
    # images as the PNG files hold them (uint8), like the manifest's
    images = ((images + 1) * 127.5).round() / 127.5 - 1
    for chunk in range(0, 27, 10):
        metric.update(images[chunk:chunk + 10], expression[chunk:chunk + 10], lighting[chunk:chunk + 10])
    values = metric.values()
    assert values["expression"].shape == (27,) and set(np.unique(values["lighting"])) <= {0.0, 1.0}
    assert values["expression"].mean() == pytest.approx(accuracy["expression_accuracy"], abs=1e-9)
    assert values["lighting"].mean() == pytest.approx(accuracy["lighting_accuracy"], abs=1e-9)
    # asking for the wrong lighting everywhere: correctness drops to the classifier's error rate
    metric.reset()
    metric.update(images, expression, (lighting + 1) % 3)
    assert metric.compute()["lighting"] < 0.2
    with pytest.raises(ValueError, match="indices must be in"):
        metric.update(images[:2], torch.tensor([0, 5]), lighting[:2])


def test_attribute_classifier_refuses_a_test_split_that_shares_subjects(attribute_data, tmp_path):
    root, train, _, _ = attribute_data
    with pytest.raises(ValueError, match="shares subject") as info:
        train_attribute_classifier(train, EXPRESSIONS, LIGHTINGS, 32, tmp_path / "a.pt", iterations=1,
                                   test_manifest=train)
    assert ERR_OVERLAP.split(":")[0] in str(info.value)
    assert not (tmp_path / "a.pt").exists()
    metric = build_metric("attributes")
    assert not metric.available and "train_attribute_classifier" in metric.unavailable_reason
