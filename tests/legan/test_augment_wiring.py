"""The paper's augmentation is on by default in training, with flags to turn each part off."""

import pytest

from legan import build
from legan.augment.random_augment import RandomAugment
from legan.config import ConfigError, validate
from legan.train_cli import build_parser, config_from_args
from tests.legan.evalset_fixtures import EXPRESSIONS, LIGHTINGS, write_face_manifest


def _config(tmp_path, *flags):
    manifest = write_face_manifest(tmp_path, subjects=2)
    args = build_parser().parse_args(["--manifest", str(manifest), "--expressions", ",".join(EXPRESSIONS),
                                      "--lightings", ",".join(LIGHTINGS), "--no-quality-loss", *flags])
    return config_from_args(args)


def test_training_augments_with_white_balance_by_default(tmp_path):
    config = _config(tmp_path)
    assert config.augment and config.white_balance and config.recolor_checkpoints == []
    dataset = build.build_dataset(config)
    assert isinstance(dataset.augment, RandomAugment)
    identity, recolour, white_balance = dataset.augment.probabilities
    assert recolour == 0 and identity == white_balance == 0.5  # no colouriser given: as is or balanced


def test_each_part_can_be_turned_off(tmp_path):
    assert build.build_dataset(_config(tmp_path, "--no-augment")).augment is None
    assert build.build_dataset(_config(tmp_path / "b", "--no-white-balance")).augment is None


def test_a_missing_colouriser_is_refused_before_training(tmp_path):
    config = _config(tmp_path, "--recolor-checkpoint", str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="colouriser checkpoint not found"):
        validate(config)
