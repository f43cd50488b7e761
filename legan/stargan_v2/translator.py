"""The three networks that translate an image (generator, mapping network, style encoder), as
one module: training holds one, the exponential moving average another (used for evaluation
and synthesis). It is called like the other generators, G(image, expression, lighting), so
sample grids and `legan.synthesis` work unchanged (latent-guided, fixed latent code).

    translator = legan.checkpoint.load_stargan_v2("run/checkpoints/checkpoint-00010000.pt", "cpu")
    out = translator.translate(images, target_expression, target_lighting)            # latent
    out = translator.translate(images, target_expression, target_lighting, reference=refs)  # reference
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from legan.networks import GeneratorOutput
from legan.stargan_v2.networks import (Generator, MappingNetwork, StarGANv2Options, StyleEncoder,
                                       domain_index, he_init)

MSG_NOT_V2 = "{path} is a {arch!r} checkpoint, not a StarGAN v2 one"
MSG_REFERENCE_SHAPE = "reference must be (B, 3, H, W) or (1, 3, H, W) like the images, got {shape}"


class StarGANv2Translator(nn.Module):
    def __init__(self, image_size: int, expressions: Sequence[str], lightings: Sequence[str],
                 opts: Optional[StarGANv2Options] = None) -> None:
        super().__init__()
        self.name, self.arch = "stargan-v2", "stargan-v2"  # legan.translator.Translator fields
        self.opts = opts or StarGANv2Options()
        self.image_size = image_size
        self.expressions, self.lightings = list(expressions), list(lightings)
        n_domains = len(self.expressions) * len(self.lightings)
        self.generator = Generator(image_size, self.opts)
        self.mapping = MappingNetwork(n_domains, self.opts)
        self.style_encoder = StyleEncoder(image_size, n_domains, self.opts)
        self.apply(he_init)

    def domains(self, expression: torch.Tensor, lighting: torch.Tensor) -> torch.Tensor:
        return domain_index(expression, lighting, len(self.lightings))

    def fixed_latent(self, batch: int, device: torch.device) -> torch.Tensor:
        """One latent code from eval_seed, shared by every image: reproducible, batch-independent."""
        g = torch.Generator().manual_seed(self.opts.eval_seed)
        return torch.randn(1, self.opts.latent_dim, generator=g).to(device).expand(batch, -1)

    def style(self, images: torch.Tensor, domain: torch.Tensor,
              reference: Optional[torch.Tensor] = None) -> torch.Tensor:
        if reference is None:
            return self.mapping(self.fixed_latent(len(images), images.device), domain)
        if reference.dim() != 4 or reference.shape[1:] != images.shape[1:] or len(reference) not in (1, len(images)):
            raise ValueError(MSG_REFERENCE_SHAPE.format(shape=tuple(reference.shape)))
        return self.style_encoder(reference.expand(len(images), -1, -1, -1).to(images), domain)

    @torch.no_grad()
    def translate(self, images: torch.Tensor, target_expression: torch.Tensor, target_lighting: torch.Tensor,
                  reference: Optional[torch.Tensor] = None) -> torch.Tensor:
        """images (B, 3, H, W) in [-1, 1] -> (B, 3, H, W) in [-1, 1] float on the CPU, at the target
        domain; latent-guided (fixed seed) unless a reference batch (of the target domain) is given."""
        device = next(self.parameters()).device
        images = images.to(device)
        domain = self.domains(target_expression.to(device), target_lighting.to(device))
        return self.generator(images, self.style(images, domain, reference)).clamp(-1, 1).float().cpu()

    def forward(self, image: torch.Tensor, expression: torch.Tensor, lighting: torch.Tensor) -> GeneratorOutput:
        """The generator interface of legan (samples, synthesis): latent-guided, no masks."""
        domain = self.domains(expression, lighting)
        return GeneratorOutput(self.generator(image, self.style(image, domain)).clamp(-1, 1), None, None)


def translator_from_checkpoint(payload: dict, device="cpu", source: str = "checkpoint") -> StarGANv2Translator:
    """The EMA translator held by a loaded StarGAN v2 training checkpoint (legan.checkpoint reads
    the file: this module stays below it), in eval mode on `device`."""
    from legan.config import TrainConfig

    config = TrainConfig.from_dict(payload["config"])
    if config.model.arch != "stargan-v2":
        raise ValueError(MSG_NOT_V2.format(path=source, arch=config.model.arch))
    translator = StarGANv2Translator(config.image_size, config.expressions, config.lightings,
                                     StarGANv2Options.from_dict(config.stargan_v2))
    translator.load_state_dict(payload["G"])  # the checkpoint's "G" is the EMA copy
    return translator.to(device).eval()
