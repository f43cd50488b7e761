"""StarGAN v2 baseline (Choi et al. 2020): networks, loss object, trainer; legan.checkpoint.load_stargan_v2
loads its translator. Domains are (expression, lighting) combinations."""

from legan.stargan_v2.networks import StarGANv2Options
from legan.stargan_v2.translator import StarGANv2Translator

__all__ = ["StarGANv2Options", "StarGANv2Translator"]
