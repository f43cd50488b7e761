"""One decoder, one input contract: the API, the CLI and training see the same tensor for the
same file, EXIF orientation and alpha included, and a checkpoint's contract is enforced."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from faces.errors import UnreadableImageError
from faces.io import load_rgb
from runkit.contract import ContractError, InputContract, file_input, model_input

SIZE = 32


def upright_photo() -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()[0:300, 100:400]).resize((120, 120)))  # (120, 120, 3)


def exif_rotated_jpeg(upright: np.ndarray) -> bytes:
    """Stored turned a quarter left, with orientation 6 ("rotate 90 clockwise to show")."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.rot90(upright, k=1))).save(buffer, format="JPEG", quality=95,
                                                                       exif=exif.tobytes())
    return buffer.getvalue()


def rgba_png(upright: np.ndarray) -> tuple[bytes, np.ndarray]:
    alpha = np.tile(np.linspace(0, 255, upright.shape[1]).astype(np.uint8), (upright.shape[0], 1))
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([upright, alpha]), mode="RGBA").save(buffer, format="PNG")
    a = alpha[..., None] / 255.0
    over_white = np.rint(upright * a + 255.0 * (1 - a)).astype(np.uint8)
    return buffer.getvalue(), over_white


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    upright = upright_photo()
    jpeg = folder / "rotated.jpg"
    jpeg.write_bytes(exif_rotated_jpeg(upright))
    data, over_white = rgba_png(upright)
    png = folder / "alpha.png"
    png.write_bytes(data)
    return {"upright": upright, "jpeg": jpeg, "png": png, "over_white": over_white}


def test_the_decoder_applies_exif_orientation_and_composites_alpha_over_white(files):
    rotated = load_rgb(files["jpeg"])
    assert rotated.shape == files["upright"].shape
    assert np.abs(rotated.astype(int) - files["upright"]).mean() < 4  # JPEG noise only
    assert np.array_equal(load_rgb(files["png"]), files["over_white"])


def test_what_does_not_decode_is_refused_naming_the_file(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(UnreadableImageError, match="notes.png"):
        load_rgb(bad)
    with pytest.raises(UnreadableImageError, match="could not decode"):
        file_input(b"not an image either", InputContract(size=SIZE))


@pytest.mark.parametrize("name", ["jpeg", "png"])
def test_quality_api_cli_and_training_see_the_same_tensor(files, name, tmp_path):
    from quality.data import QualityDataset
    from quality.score import read_faces

    path = files[name]
    contract = InputContract(size=SIZE, mask="hull")
    api = file_input(path.read_bytes(), contract)  # an upload's bytes
    [cli_image], [error] = read_faces([path], prepare=None)  # python -m quality.score
    cli = model_input(cli_image, contract)
    labels = __import__("pandas").DataFrame({"path": [str(path)], "mu": [5.0], "sigma": [1.0]})
    training, _, _ = QualityDataset(labels, image_size=SIZE, cache=False)[0]
    assert error == ""
    assert torch.equal(api, cli) and torch.equal(cli, training)
    assert api.shape == (3, SIZE, SIZE) and api.min() >= -1 and api.max() <= 1


@pytest.mark.parametrize("name", ["jpeg", "png"])
def test_legan_api_cli_and_training_see_the_same_tensor(files, name):
    from legan.data.dataset import image_to_tensor, load_face
    from legan.synthesis import load_face_tensor

    path = files[name]
    contract = InputContract(size=SIZE)
    api = model_input(load_rgb(path.read_bytes()), contract)  # legan_edit_upload, after alignment
    cli = load_face_tensor(path, SIZE)  # python -m legan.generate
    image, mask = load_face(path, SIZE)  # LeganDataset
    assert torch.equal(api, cli) and torch.equal(cli, image_to_tensor(image))
    assert mask.shape == (SIZE, SIZE) and mask.all()


def test_prepared_faces_match_between_upload_cli_and_training(files, tmp_path):
    """Raw photo -> aligned, hull-masked face: the API's upload and the CLI's --prepare go
    through quality.score.prepare_face; training reads the prepared face from a PNG."""
    from quality.data import QualityDataset
    from quality.score import face_preparer, prepare_face, read_faces

    contract = InputContract(size=64, mask="hull")
    photo = files["jpeg"]  # rotated on disk: only an EXIF-aware decoder finds the face upright
    api_face = prepare_face(photo.read_bytes(), contract)
    [cli_face], [error] = read_faces([photo], face_preparer(contract))
    assert error == "" and np.array_equal(api_face, cli_face) and api_face.shape == (64, 64, 3)
    stored = tmp_path / "prepared.png"
    Image.fromarray(api_face).save(stored)
    labels = __import__("pandas").DataFrame({"path": [str(stored)], "mu": [5.0], "sigma": [1.0]})
    training, _, _ = QualityDataset(labels, image_size=64, cache=False)[0]
    assert torch.equal(training, model_input(api_face, contract))


def test_contract_round_trips_and_defaults_for_older_checkpoints():
    contract = InputContract(size=64, mask="hull")
    assert InputContract.from_checkpoint({"input_contract": contract.to_dict()}, InputContract(size=1)) == contract
    default = InputContract(size=128, mask="hull")
    assert InputContract.from_checkpoint({}, default) is default
    with pytest.raises(ContractError, match="size"):
        contract.require(InputContract(size=128, mask="hull"), "q.pt")
    with pytest.raises(ContractError, match="colour 'bgr'"):
        InputContract(size=64, colour="bgr")
    with pytest.raises(ContractError, match="malformed"):
        InputContract.from_checkpoint({"input_contract": {"size": 64}}, default)


def test_quality_checkpoints_save_and_enforce_their_contract(tmp_path):
    from quality.checkpoint import CheckpointError, load_quality_model
    from quality.model import QualityConfig, QualityNet

    model = QualityNet(QualityConfig(image_size=32, channels=4, max_channels=8, depth=3, fc_width=8))
    payload = {"model": model.state_dict(), "model_config": model.config.to_dict()}
    old = tmp_path / "old.pt"
    torch.save(payload, old)  # written before contracts: Q's documented default
    assert load_quality_model(old).input_contract == InputContract(size=32, mask="hull")
    wrong = tmp_path / "wrong.pt"
    torch.save({**payload, "input_contract": InputContract(size=32, mask="none").to_dict()}, wrong)
    with pytest.raises(CheckpointError, match="mask"):
        load_quality_model(wrong)
