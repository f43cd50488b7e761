"""Architecture registry: build G and D for "legan" or the "stargan" baseline from one config."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from torch import nn

from legan.networks import DiscriminatorConfig, GeneratorConfig, LeganGenerator, PatchDiscriminator
from legan.stargan import (StarGANDiscriminator, StarGANDiscriminatorConfig, StarGANGenerator,
                           StarGANGeneratorConfig)

ARCHITECTURES = ("legan", "stargan", "stargan-v2")  # stargan-v2: legan.stargan_v2
MSG_UNKNOWN_ARCH = "unknown architecture {arch!r}; choose one of: " + ", ".join(ARCHITECTURES)

# Per-architecture defaults used when a ModelConfig field is None.
_DEFAULT_RES_BLOCKS = {"legan": 4, "stargan": 6, "stargan-v2": 2}
_DEFAULT_D_LAYERS = {"legan": 5, "stargan": 6, "stargan-v2": 4}


@dataclass
class ModelConfig:
    arch: str = "legan"
    g_channels: int = 64
    g_downsamples: int = 2  # LEGAN only; StarGAN's reference generator always downsamples twice
    g_res_blocks: Optional[int] = None  # None: 4 per hourglass (LEGAN), 6 (StarGAN)
    d_channels: int = 64
    d_layers: Optional[int] = None  # None: 5 (LEGAN patch map 4x4 at 128), 6 (StarGAN, 2x2)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(MSG_UNKNOWN_ARCH.format(arch=self.arch))

    @property
    def res_blocks(self) -> int:
        return self.g_res_blocks if self.g_res_blocks is not None else _DEFAULT_RES_BLOCKS[self.arch]

    @property
    def disc_layers(self) -> int:
        return self.d_layers if self.d_layers is not None else _DEFAULT_D_LAYERS[self.arch]

    def to_dict(self) -> dict:
        return asdict(self)


MSG_V2_ELSEWHERE = "StarGAN v2 networks are built by legan.stargan_v2 (they depend on the image size)"


def build_generator(cfg: ModelConfig, n_expressions: int, n_lightings: int) -> nn.Module:
    if cfg.arch == "stargan-v2":
        raise ValueError(MSG_V2_ELSEWHERE)
    if cfg.arch == "legan":
        return LeganGenerator(GeneratorConfig(n_expressions, n_lightings, base_channels=cfg.g_channels,
                                              n_downsamples=cfg.g_downsamples, n_res_blocks=cfg.res_blocks))
    return StarGANGenerator(StarGANGeneratorConfig(n_expressions, n_lightings, conv_dim=cfg.g_channels,
                                                   n_res_blocks=cfg.res_blocks))


def build_discriminator(cfg: ModelConfig, image_size: int, n_attributes: int) -> nn.Module:
    if cfg.arch == "stargan-v2":
        raise ValueError(MSG_V2_ELSEWHERE)
    if cfg.arch == "legan":
        return PatchDiscriminator(DiscriminatorConfig(image_size, n_attributes, base_channels=cfg.d_channels,
                                                      n_layers=cfg.disc_layers))
    return StarGANDiscriminator(StarGANDiscriminatorConfig(image_size, n_attributes, conv_dim=cfg.d_channels,
                                                           repeat_num=cfg.disc_layers))
