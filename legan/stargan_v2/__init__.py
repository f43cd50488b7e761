"""StarGAN v2 baseline (Choi et al. 2020): networks, loss object, trainer and the evaluation
loader. Domains are (expression, lighting) combinations."""

from legan.stargan_v2.networks import StarGANv2Options
from legan.stargan_v2.translator import StarGANv2Translator, load_translator

__all__ = ["StarGANv2Options", "StarGANv2Translator", "load_translator"]
