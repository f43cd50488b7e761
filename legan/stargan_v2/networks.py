"""StarGAN v2 networks (Choi et al. 2020), following the authors' reference architecture.

Generator: 3x3 conv from RGB, pre-activation residual blocks with instance norm that
downsample (average pooling) to 16x16 at any input size, two bottleneck blocks, then AdaIN
residual blocks (style -> per-channel scale and shift) that upsample (nearest) back; instance
norm + LeakyReLU(0.2) + 1x1 conv to RGB, no tanh. Every residual sum is divided by sqrt(2).
Mapping network: latent z -> 4 shared ReLU MLP layers -> one 4-layer head per domain -> style.
Style encoder and discriminator share one trunk (residual blocks down to 4x4, 4x4 conv);
the encoder ends in one linear style head per domain, the discriminator in a 1x1 conv with one
realness logit per domain. Outputs are picked by the domain index y.

Deviations: the high-pass-filter skip from the face landmark network (w_hpf, CelebA-HQ only)
is left out (w_hpf = 0, the authors' AFHQ setting): the landmark network is not available here.
A domain is one (expression, lighting) combination: domain = expression * n_lightings + lighting.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

MSG_BAD_SIZE = "StarGAN v2 needs a power-of-two image size of at least 16, got {size}"
MSG_UNKNOWN_OPTION = "unknown StarGAN v2 option {name!r}; known: {known}"


@dataclass
class StarGANv2Options:
    """The authors' defaults (their `main.py`), stored in TrainConfig.stargan_v2 as overrides."""

    latent_dim: int = 16
    style_dim: int = 64
    hidden_dim: int = 512  # mapping network width
    dim_in: Optional[int] = None  # first conv width; None: 2**14 // image_size (the authors' rule)
    max_conv_dim: int = 512
    lambda_reg: float = 1.0  # R1 gamma
    lambda_sty: float = 1.0
    lambda_ds: float = 1.0  # initial weight, decayed linearly to 0 over ds_iter iterations
    lambda_cyc: float = 1.0
    ds_iter: Optional[int] = None  # None: the whole run
    lr_mapping: float = 1e-6  # f_lr; G, E and D use TrainConfig.lr_g / lr_d (1e-4)
    beta1: float = 0.0
    beta2: float = 0.99
    weight_decay: float = 1e-4
    ema_beta: float = 0.999
    eval_seed: int = 0  # the fixed latent code of latent-guided synthesis

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> "StarGANv2Options":
        known = [f.name for f in fields(cls)]
        for name in (data or {}):
            if name not in known:
                raise ValueError(MSG_UNKNOWN_OPTION.format(name=name, known=", ".join(known)))
        return cls(**(data or {}))

    def to_dict(self) -> dict:
        return asdict(self)

    def first_width(self, image_size: int) -> int:
        return self.dim_in if self.dim_in is not None else 2 ** 14 // image_size


def check_image_size(size: int) -> None:
    if size < 16 or size & (size - 1):
        raise ValueError(MSG_BAD_SIZE.format(size=size))


def he_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.constant_(module.bias, 0)


class ResBlk(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, normalize: bool = False, downsample: bool = False) -> None:
        super().__init__()
        self.actv = nn.LeakyReLU(0.2)
        self.normalize, self.downsample = normalize, downsample
        self.learned_sc = dim_in != dim_out
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.learned_sc:
            x = self.conv1x1(x)
        return F.avg_pool2d(x, 2) if self.downsample else x

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            x = self.norm1(x)
        x = self.conv1(self.actv(x))
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        if self.normalize:
            x = self.norm2(x)
        return self.conv2(self.actv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self._shortcut(x) + self._residual(x)) / math.sqrt(2)  # unit variance


class AdaIN(nn.Module):
    def __init__(self, style_dim: int, num_features: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(num_features, affine=False)
        self.fc = nn.Linear(style_dim, num_features * 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = self.fc(s)[:, :, None, None]  # (B, 2C, 1, 1)
        gamma, beta = h.chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdainResBlk(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, style_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.actv = nn.LeakyReLU(0.2)
        self.upsample = upsample
        self.learned_sc = dim_in != dim_out
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN(style_dim, dim_in)
        self.norm2 = AdaIN(style_dim, dim_out)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1x1(x) if self.learned_sc else x

    def _residual(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        x = self.actv(self.norm1(x, s))
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv1(x)
        return self.conv2(self.actv(self.norm2(x, s)))

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return (self._residual(x, s) + self._shortcut(x)) / math.sqrt(2)


class Generator(nn.Module):
    def __init__(self, image_size: int, opts: StarGANv2Options) -> None:
        super().__init__()
        check_image_size(image_size)
        dim_in = opts.first_width(image_size)
        self.from_rgb = nn.Conv2d(3, dim_in, 3, 1, 1)
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(dim_in, affine=True), nn.LeakyReLU(0.2),
                                    nn.Conv2d(dim_in, 3, 1, 1, 0))
        self.encode, self.decode = nn.ModuleList(), nn.ModuleList()
        dim_out = dim_in
        for _ in range(int(math.log2(image_size)) - 4):  # down to 16x16
            dim_out = min(dim_in * 2, opts.max_conv_dim)
            self.encode.append(ResBlk(dim_in, dim_out, normalize=True, downsample=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_in, opts.style_dim, upsample=True))
            dim_in = dim_out
        for _ in range(2):  # bottleneck
            self.encode.append(ResBlk(dim_out, dim_out, normalize=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_out, opts.style_dim))

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """x (B, 3, S, S), style s (B, style_dim) -> (B, 3, S, S), not clamped."""
        x = self.from_rgb(x)
        for block in self.encode:
            x = block(x)  # down to (B, C, 16, 16)
        for block in self.decode:
            x = block(x, s)
        return self.to_rgb(x)


class MappingNetwork(nn.Module):
    def __init__(self, num_domains: int, opts: StarGANv2Options) -> None:
        super().__init__()
        h = opts.hidden_dim
        layers: list[nn.Module] = [nn.Linear(opts.latent_dim, h), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Linear(h, h), nn.ReLU()]
        self.shared = nn.Sequential(*layers)
        self.unshared = nn.ModuleList(
            nn.Sequential(nn.Linear(h, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                          nn.Linear(h, opts.style_dim)) for _ in range(num_domains))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim), domain y (B,) -> style (B, style_dim)."""
        h = self.shared(z)
        out = torch.stack([head(h) for head in self.unshared], dim=1)  # (B, K, style_dim)
        return out[torch.arange(len(y), device=y.device), y]


def _trunk(image_size: int, opts: StarGANv2Options) -> tuple[nn.Sequential, int]:
    """Shared by the style encoder and the discriminator: (B, 3, S, S) -> (B, C, 1, 1)."""
    check_image_size(image_size)
    dim_in = opts.first_width(image_size)
    blocks: list[nn.Module] = [nn.Conv2d(3, dim_in, 3, 1, 1)]
    dim_out = dim_in
    for _ in range(int(math.log2(image_size)) - 2):  # down to 4x4
        dim_out = min(dim_in * 2, opts.max_conv_dim)
        blocks.append(ResBlk(dim_in, dim_out, downsample=True))
        dim_in = dim_out
    blocks += [nn.LeakyReLU(0.2), nn.Conv2d(dim_out, dim_out, 4, 1, 0), nn.LeakyReLU(0.2)]
    return nn.Sequential(*blocks), dim_out


class StyleEncoder(nn.Module):
    def __init__(self, image_size: int, num_domains: int, opts: StarGANv2Options) -> None:
        super().__init__()
        self.shared, dim_out = _trunk(image_size, opts)
        self.unshared = nn.ModuleList(nn.Linear(dim_out, opts.style_dim) for _ in range(num_domains))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """image x (B, 3, S, S), domain y (B,) -> style (B, style_dim)."""
        h = self.shared(x).flatten(1)  # (B, C)
        out = torch.stack([head(h) for head in self.unshared], dim=1)  # (B, K, style_dim)
        return out[torch.arange(len(y), device=y.device), y]


class Discriminator(nn.Module):
    def __init__(self, image_size: int, num_domains: int, opts: StarGANv2Options) -> None:
        super().__init__()
        trunk, dim_out = _trunk(image_size, opts)
        self.main = nn.Sequential(*trunk, nn.Conv2d(dim_out, num_domains, 1, 1, 0))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """image x (B, 3, S, S), domain y (B,) -> realness logit for that domain (B,)."""
        out = self.main(x).flatten(1)  # (B, K): one output per domain (multi-task)
        return out[torch.arange(len(y), device=y.device), y]


def domain_index(expression: torch.Tensor, lighting: torch.Tensor, n_lightings: int) -> torch.Tensor:
    """(expression, lighting) ids -> domain ids (B,) long."""
    return expression.long() * n_lightings + lighting.long()
