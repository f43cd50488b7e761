"""LEGAN augmentation: white balance, pix2pix colouriser (model, training, run artifacts), RandomAugment."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2lab
from skimage.data import astronaut

from legan.augment import white_balance as wb
from legan.augment.colorize_artifacts import load_generator
from legan.augment.colorize_model import ColorizeNetConfig, PatchDiscriminator, UNetGenerator, rgb_to_grey
from legan.augment.colorize_train import ColorizeTrainConfig, dry_run, evaluate_l1, main, train
from runkit.loop import TrainingStopped
from legan.augment.colorize_data import ColourFaceFolder
from legan.augment.random_augment import AugmentConfig, RandomAugment
from legan.augment.recolor import Recolorizer

TINY = dict(image_size=32, ngf=8, ndf=8, num_downs=5)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny convs gain nothing from 2 threads and stall badly when another process holds a core.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _face(size=64) -> np.ndarray:
    """A real colour face crop (astronaut), mid-tones, resized."""
    return np.asarray(Image.fromarray(astronaut()[20:260, 130:330]).resize((size, size), Image.BICUBIC))


def _b_over_r(image: np.ndarray) -> float:
    linear = wb.srgb_to_linear(image.astype(float) / 255.0)
    return float(linear[..., 2].mean() / linear[..., 0].mean())


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    """8 colour crops of the astronaut photo (a real colour face set in miniature)."""
    root = tmp_path_factory.mktemp("colour")
    image = astronaut()
    for k, (y, x) in enumerate([(0, 100), (20, 140), (40, 120), (10, 160), (200, 0), (250, 250), (300, 100), (60, 200)]):
        Image.fromarray(image[y:y + 200, x:x + 200]).save(root / f"face_{k}.png")
    Image.fromarray(np.full((50, 50), 128, np.uint8), mode="L").save(root / "grey.png")  # left out
    return root


# ---------------------------------------------------------------- white balance
def test_planckian_locus_matches_known_white_points():
    assert wb.planckian_xy(2856) == pytest.approx((0.4476, 0.4074), abs=1e-3)  # CIE illuminant A
    assert wb.planckian_xy(6500) == pytest.approx((0.3135, 0.3236), abs=1e-3)
    with pytest.raises(ValueError, match="outside the supported"):
        wb.planckian_xy(1000)


def test_reference_temperature_is_identity():
    face = _face()
    assert np.array_equal(wb.apply_color_temperature(face, 5000, reference_kelvin=5000), face)
    assert np.array_equal(wb.apply_preset(face, "cloudy"), face)  # cloudy = 6500 K = default reference


def test_tungsten_preset_makes_image_bluer_and_shade_warmer():
    face = _face()
    ratio = _b_over_r(face)
    assert _b_over_r(wb.apply_preset(face, "tungsten")) > 1.5 * ratio
    assert ratio < _b_over_r(wb.apply_preset(face, "fluorescent")) < _b_over_r(wb.apply_preset(face, "tungsten"))
    assert _b_over_r(wb.apply_preset(face, "shade")) < ratio
    with pytest.raises(ValueError, match="Unknown white-balance preset"):
        wb.apply_preset(face, "moonlight")


def test_srgb_transfer_round_trip():
    values = np.linspace(0, 1, 101)
    assert np.allclose(wb.linear_to_srgb(wb.srgb_to_linear(values)), values, atol=1e-9)


def test_grey_world_equalises_channel_means():
    cast = np.clip(_face().astype(float) * [0.55, 0.8, 1.0], 0, 255).astype(np.uint8)  # a strong blue cast
    balanced = wb.grey_world(cast)
    before = wb.srgb_to_linear(cast / 255.0).reshape(-1, 3).mean(0)
    after = wb.srgb_to_linear(balanced / 255.0).reshape(-1, 3).mean(0)
    assert np.ptp(before) / before.mean() > 0.3
    assert np.ptp(after) / after.mean() < 0.02


def test_grey_world_uses_only_masked_pixels():
    image = np.zeros((32, 32, 3), np.uint8)
    image[:16] = (200, 40, 40)  # red outside the face
    image[16:] = (90, 100, 140)  # bluish face
    mask = np.zeros((32, 32), bool)
    mask[16:] = True
    out = wb.grey_world(image, mask)
    face = wb.srgb_to_linear(out[16:] / 255.0).reshape(-1, 3).mean(0)
    assert np.ptp(face) / face.mean() < 0.02


def test_image_validation_message():
    with pytest.raises(ValueError, match=r"Expected an \(H, W, 3\) uint8 RGB image"):
        wb.grey_world(np.zeros((4, 4), np.uint8))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated in torch 2.13, still the exchange format here
def test_torchscript_white_balancer_hook(tmp_path):
    class Halve(torch.nn.Module):
        def forward(self, x):
            return x * 0.5

    torch.jit.script(Halve()).save(str(tmp_path / "wb.pt"))
    balance = wb.load_torchscript_white_balancer(tmp_path / "wb.pt")
    out = balance(np.full((8, 8, 3), 200, np.uint8))
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8 and int(out[0, 0, 0]) == 100
    with pytest.raises(FileNotFoundError, match="White-balance model file not found"):
        wb.load_torchscript_white_balancer(tmp_path / "missing.pt")


# ---------------------------------------------------------------- colouriser networks
def test_generator_and_discriminator_shapes():
    config = ColorizeNetConfig(image_size=64, ngf=8, ndf=8, num_downs=6)
    g, d = UNetGenerator(config), PatchDiscriminator(config)
    grey = torch.rand(2, 1, 64, 64) * 2 - 1
    rgb = g(grey)
    assert rgb.shape == (2, 3, 64, 64) and rgb.abs().max() <= 1.0
    logits = d(grey, rgb)
    assert logits.shape == (2, 1, 6, 6)
    rgb.mean().backward()
    assert all(p.grad is not None for p in g.parameters())
    with pytest.raises(ValueError, match="divisible by 2\\*\\*num_downs"):
        UNetGenerator(ColorizeNetConfig(image_size=48, num_downs=5))


def test_default_generator_is_pix2pix_unet_128():
    g = UNetGenerator(ColorizeNetConfig())
    assert sum(p.numel() for p in g.parameters()) == pytest.approx(41.8e6, rel=0.01)


def test_rgb_to_grey_matches_pil_luma():
    image = _face(32)
    tensor = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    ours = (rgb_to_grey(tensor)[0, 0] + 1) * 127.5
    pil = np.asarray(Image.fromarray(image).convert("L")).astype(float)
    assert np.abs(ours.numpy() - pil).max() <= 1.0


# ---------------------------------------------------------------- colouriser training
def test_colour_folder_leaves_grey_images_out(colour_folder):
    ds = ColourFaceFolder(colour_folder, image_size=32)
    assert len(ds) == 8 and [p.name for p in ds.left_out] == ["grey.png"]
    item = ds[0]
    assert item["grey"].shape == (1, 32, 32) and item["colour"].shape == (3, 32, 32)


def test_training_reduces_l1_and_writes_run_artifacts(colour_folder, tmp_path):
    config = ColorizeTrainConfig(images=str(colour_folder), steps=80, batch_size=4, lr=1e-3, log_every=40,
                                 sample_every=40, checkpoint_every=40, net=ColorizeNetConfig(**TINY))
    torch.manual_seed(0)
    untrained = UNetGenerator(ColorizeNetConfig(**TINY))
    before = evaluate_l1(untrained, ColourFaceFolder(colour_folder, 32), torch.device("cpu"))
    progress = []
    result = train(config, run_dir=tmp_path / "run", on_progress=lambda s, t, stats: progress.append((s, stats)))
    assert result.metrics["l1_train"] < 0.7 * before
    run = tmp_path / "run"
    assert [s for s, _ in progress] == [40, 80] and "Loss/G/L1" in progress[0][1] and "Loss/D/real" in progress[0][1]
    assert len((run / "stats.jsonl").read_text().splitlines()) == 2
    assert json.loads((run / "config.json").read_text())["net"]["ngf"] == 8
    assert (run / "samples" / "step_0000080.png").is_file() and (run / "plots" / "losses.png").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoint-00000040.pt", "checkpoint-00000080.pt"]
    generator = load_generator(run / "generator.pt")
    assert not generator.training and evaluate_l1(generator, ColourFaceFolder(colour_folder, 32), torch.device("cpu")) == pytest.approx(result.metrics["l1_train"], rel=1e-5)
    with pytest.raises(FileExistsError, match="already holds a run"):
        train(config, run_dir=run)


def test_resume_continues_exactly(colour_folder, tmp_path):
    def config(steps):
        return ColorizeTrainConfig(images=str(colour_folder), steps=steps, batch_size=4, log_every=5,
                                   sample_every=100, checkpoint_every=100, net=ColorizeNetConfig(**TINY))

    straight = train(config(10), run_dir=tmp_path / "a")
    calls = iter(range(100))
    with pytest.raises(TrainingStopped):  # interrupted after step 5, checkpoint saved
        train(config(10), run_dir=tmp_path / "b", should_stop=lambda: next(calls) == 4)
    resumed = train(config(10), run_dir=tmp_path / "b", resume=True)
    a = torch.load(straight.checkpoint_path, weights_only=False)["G"]
    b = torch.load(resumed.checkpoint_path, weights_only=False)["G"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_should_stop_saves_and_raises(colour_folder, tmp_path):
    config = ColorizeTrainConfig(images=str(colour_folder), steps=50, batch_size=4, checkpoint_every=100,
                                 sample_every=100, net=ColorizeNetConfig(**TINY))
    with pytest.raises(TrainingStopped):
        train(config, run_dir=tmp_path / "run", should_stop=lambda: True)
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-00000001.pt").is_file()


def test_cli_dry_run_and_bad_options(colour_folder, tmp_path, capsys):
    assert main(["--images", str(colour_folder), "--out", str(tmp_path / "r"), "--steps", "3",
                 "--image-size", "32", "--ngf", "8", "--ndf", "8", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["output_shape"] == [2, 3, 32, 32]
    assert not (tmp_path / "r").exists()
    assert main(["--images", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"), "--dry-run"]) == 2
    assert "Image folder not found" in capsys.readouterr().err
    assert main(["--images", str(colour_folder), "--out", str(tmp_path / "r"), "--steps", "0", "--dry-run"]) == 2
    info = dry_run(ColorizeTrainConfig(images=str(colour_folder), net=ColorizeNetConfig(**TINY)))
    assert info["n_images"] == 8 and info["left_out"] == 1


# ---------------------------------------------------------------- recolouring and RandomAugment
def _tiny_recolorizer(n=2, preserve_luminance=True):
    torch.manual_seed(0)
    return Recolorizer([UNetGenerator(ColorizeNetConfig(**TINY)) for _ in range(n)], preserve_luminance)


def test_recolor_keeps_shape_and_luminance():
    face = _face(64)
    recolorizer = _tiny_recolorizer()
    out = recolorizer.recolor(face, style=1)
    assert out.shape == face.shape and out.dtype == np.uint8 and not np.array_equal(out, face)
    lum_error = np.abs(rgb2lab(out)[..., 0] - rgb2lab(face)[..., 0])
    assert np.median(lum_error) < 2.0
    raw = _tiny_recolorizer(preserve_luminance=False).recolor(face, style=0)
    assert raw.shape == face.shape
    with pytest.raises(ValueError, match="out of range"):
        recolorizer.recolor(face, style=2)


def test_recolorizer_from_training_checkpoint(tmp_path):
    generator = UNetGenerator(ColorizeNetConfig(**TINY))
    torch.save({"G": generator.state_dict(), "net_config": generator.config.to_dict(), "step": 0}, tmp_path / "g.pt")
    recolorizer = Recolorizer.from_checkpoints([tmp_path / "g.pt", tmp_path / "g.pt"])
    assert recolorizer.n_styles == 2
    torch.save({"weights": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a colouriser checkpoint"):
        Recolorizer.from_checkpoints([tmp_path / "bad.pt"])


def test_random_augment_picks_each_option_and_keeps_shape():
    face, mask = _face(32), np.ones((32, 32), bool)
    augment = RandomAugment(recolorizer=_tiny_recolorizer(), seed=0)
    kinds = set()
    for _ in range(60):
        out = augment(face, mask)
        assert out.shape == face.shape and out.dtype == np.uint8
        kinds.add(augment.last_choice.split(":")[0])
        if augment.last_choice == "identity":
            assert out is face
    assert kinds == {"identity", "recolor", "white_balance"}


def test_random_augment_probabilities():
    face = _face(32)
    only_wb = RandomAugment(AugmentConfig(p_identity=0, p_recolor=0, white_balance_choices=("tungsten",)), seed=1)
    assert np.array_equal(only_wb(face), wb.apply_preset(face, "tungsten"))
    no_recolorizer = RandomAugment(AugmentConfig(p_identity=1, p_recolor=5, p_white_balance=1))
    assert no_recolorizer.probabilities.tolist() == [0.5, 0.0, 0.5]
    with pytest.raises(ValueError, match="All augmentation probabilities are 0"):
        RandomAugment(AugmentConfig(p_identity=0, p_white_balance=0))
    with pytest.raises(ValueError, match="Unknown white-balance choice"):
        RandomAugment(AugmentConfig(white_balance_choices=("sunset",)))


def test_random_augment_in_dataset_keeps_masks(tmp_path):
    from legan.data.dataset import LeganDataset
    from legan.data.manifest import write_manifest

    Image.fromarray(_face(32)).save(tmp_path / "a.png")
    mask = np.zeros((32, 32), np.uint8)
    mask[4:28, 6:26] = 255
    Image.fromarray(mask).save(tmp_path / "a_mask.png")
    write_manifest([{"image_path": "a.png", "subject": "s", "expression": "neutral", "lighting": "front",
                     "mask_path": "a_mask.png"}], tmp_path / "m.csv")
    augment = RandomAugment(AugmentConfig(p_identity=0, p_recolor=1, p_white_balance=1),
                            recolorizer=_tiny_recolorizer(), seed=3)
    ds = LeganDataset(tmp_path / "m.csv", ["neutral"], ["front"], image_size=32, augment=augment)
    plain = LeganDataset(tmp_path / "m.csv", ["neutral"], ["front"], image_size=32)
    for _ in range(6):
        item = ds[0]
        assert item["image"].shape == (3, 32, 32) and -1 <= item["image"].min() and item["image"].max() <= 1
        assert torch.equal(item["mask"], plain[0]["mask"])
        assert not torch.equal(item["image"], plain[0]["image"])


def test_prepare_colour_faces_aligns_faces_and_lists_the_rest(tmp_path):
    from legan.augment.prepare_colour_faces import prepare_colour_faces

    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(astronaut()[0:240, 120:330]).save(src / "astronaut.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(src / "noise.png")
    summary = prepare_colour_faces(src, tmp_path / "out", size=64, progress=False)
    assert summary["kept"] == 1 and summary["skipped"] == 1
    assert Image.open(tmp_path / "out" / "astronaut.png").size == (64, 64)
    assert "noise.png" in (tmp_path / "out" / "skipped.csv").read_text()


def test_preview_grid_has_one_column_per_augmentation(tmp_path):
    from legan.augment.preview import main as preview_main
    from legan.data.manifest import write_manifest

    Image.fromarray(_face(32)).save(tmp_path / "a.png")
    write_manifest([{"image_path": "a.png", "subject": "s", "expression": "neutral", "lighting": "front"}], tmp_path / "m.csv")
    generator = UNetGenerator(ColorizeNetConfig(**TINY))
    torch.save({"G": generator.state_dict(), "net_config": generator.config.to_dict()}, tmp_path / "g.pt")
    assert preview_main(["--manifest", str(tmp_path / "m.csv"), "--out", str(tmp_path / "p.png"),
                         "--colorizer", str(tmp_path / "g.pt")]) == 0
    assert Image.open(tmp_path / "p.png").size == (32 * (2 + len(wb.PRESETS_KELVIN) + 1), 32)
    assert preview_main(["--manifest", str(tmp_path / "none.csv"), "--out", str(tmp_path / "q.png")]) == 2
