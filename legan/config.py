"""TrainConfig: every option of a LEGAN / StarGAN training run, with validation.

Defaults are the paper's (section 5): Adam 1e-4, betas (0.5, 0.999), 5 D steps per G step,
batch 10, 128x128 images, 100 epochs, loss weights in LossConfig.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

from legan.arch import ARCHITECTURES, ModelConfig
from legan.loss import LossConfig

IDENTITY_NETWORKS = ("dlib", "lightcnn29")
AMP_DTYPES = ("bf16", "fp16")

MSG_NO_CLASSES = "give at least one {what} class name (--{what}s a,b,c)"
MSG_DUPLICATE_CLASSES = "{what} class names must be unique, got {names}"
MSG_MANIFEST_MISSING = "manifest not found: {path}"
MSG_Q_MISSING = "quality loss is on (lambda_qual > 0) but no Q checkpoint was given: pass --q-checkpoint PATH or --no-quality-loss"
MSG_Q_NOT_FOUND = "Q checkpoint not found: {path}"
MSG_BAD_IDENTITY = "identity network must be one of " + ", ".join(IDENTITY_NETWORKS) + ", got {name!r}"
MSG_BAD_BATCH = ("batch_size {batch} is the global batch and must be a positive multiple of the number of "
                 "processes ({world}); for the paper's 10 per GPU pass --batch-size {suggest}")
MSG_BAD_SIZE = "image_size {size} must be divisible by {div} for this architecture"
MSG_BAD_LENGTH = "set epochs > 0 or max_iterations > 0"
MSG_BAD_AMP = "amp_dtype must be one of " + ", ".join(AMP_DTYPES)


class ConfigError(ValueError):
    """Invalid training options; the message says which option and how to fix it."""


@dataclass
class TrainConfig:
    manifest: Optional[str] = None
    expressions: list[str] = field(default_factory=list)
    lightings: list[str] = field(default_factory=list)
    image_size: int = 128
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    # The paper's augmentation (section 5): each input as is, recoloured by one of the pix2pix
    # colourisers (legan.augment.colorize_train), or white-balance edited, chosen at random.
    augment: bool = True
    recolor_checkpoints: list[str] = field(default_factory=list)  # colourisers; none given: no recolouring
    white_balance: bool = True
    q_checkpoint: Optional[str] = None
    identity: str = "dlib"
    identity_weights: Optional[str] = None
    # The GLOBAL batch: split evenly over the DDP processes (batch_size / world_size each; a
    # batch that does not divide is refused). The paper's batch 10 on one GPU is batch_size=10;
    # to keep 10 per GPU on N GPUs, pass 10 * N.
    batch_size: int = 10
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 5  # D steps (each on a fresh batch) per G step
    epochs: float = 100.0
    max_iterations: Optional[int] = None  # D iterations; overrides epochs when set
    seed: int = 0
    device: str = "auto"  # "auto": cuda:<local rank> when available, else cpu
    amp: bool = True  # mixed precision, CUDA only
    amp_dtype: str = "bf16"
    num_workers: int = 2  # persistent loader workers per process
    prefetch_factor: int = 4  # batches each worker prepares ahead
    cache_images: bool = True  # decode each image once per run (shared memory; legan.data.cache)
    channels_last: bool = True  # NHWC activations on CUDA (tensor cores); ignored on CPU
    compile: bool = False  # torch.compile the generator (see legan.build.compile_generator)
    log_every: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 5000
    keep_checkpoints: int = 3
    sample_count: int = 6  # input images in each sample grid
    sample_targets: Optional[list[list[str]]] = None  # [[expression, lighting], ...]; None: a spread
    progress: bool = True
    validation_pairs: Optional[str] = None  # pairs_val.csv of an evaluation set (legan.data.pairs)
    validate_every: int = 500  # D iterations between validation passes (and at the end)
    stargan_v2: Optional[dict] = None  # arch "stargan-v2": overrides of legan.stargan_v2.StarGANv2Options

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if isinstance(kwargs.get("model"), dict):
            kwargs["model"] = ModelConfig(**kwargs["model"])
        if isinstance(kwargs.get("loss"), dict):
            kwargs["loss"] = LossConfig(**kwargs["loss"])
        return cls(**kwargs)


def size_divisor(model: ModelConfig) -> int:
    g_down = model.g_downsamples if model.arch == "legan" else 2
    return 2 ** max(g_down, model.disc_layers)


def validate(config: TrainConfig, *, world_size: int = 1, check_manifest: bool = True,
             check_q_checkpoint: bool = True) -> None:
    """Raise ConfigError for the first invalid option. The path checks can be skipped when the
    caller injects the dataset or the Q network itself."""
    for what, names in (("expression", config.expressions), ("lighting", config.lightings)):
        if not names:
            raise ConfigError(MSG_NO_CLASSES.format(what=what))
        if len(set(names)) != len(names):
            raise ConfigError(MSG_DUPLICATE_CLASSES.format(what=what, names=names))
    if config.model.arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {config.model.arch!r}")
    div = size_divisor(config.model)
    if config.image_size <= 0 or config.image_size % div:
        raise ConfigError(MSG_BAD_SIZE.format(size=config.image_size, div=div))
    if config.batch_size <= 0 or config.batch_size % world_size:
        raise ConfigError(MSG_BAD_BATCH.format(batch=config.batch_size, world=world_size, suggest=10 * world_size))
    if not (config.max_iterations or config.epochs > 0) or (config.max_iterations is not None
                                                               and config.max_iterations <= 0):
        raise ConfigError(MSG_BAD_LENGTH)
    if config.amp_dtype not in AMP_DTYPES:
        raise ConfigError(MSG_BAD_AMP)
    for path in config.recolor_checkpoints if config.augment else ():
        if not Path(path).is_file():
            raise ConfigError(f"colouriser checkpoint not found: {path} (train one with "
                              "python -m legan.augment.colorize_train)")
    if config.prefetch_factor < 1 or config.num_workers < 0:
        raise ConfigError("prefetch_factor must be >= 1 and num_workers >= 0")
    if config.validate_every < 1:
        raise ConfigError("validate_every must be >= 1")
    if config.validation_pairs and not Path(config.validation_pairs).is_file():
        raise ConfigError(f"validation pairs not found: {config.validation_pairs}")
    if config.n_critic < 1:
        raise ConfigError("n_critic must be >= 1")
    if config.loss.lambda_id > 0 and config.identity not in IDENTITY_NETWORKS:
        raise ConfigError(MSG_BAD_IDENTITY.format(name=config.identity))
    if config.sample_targets:
        for expr, light in config.sample_targets:
            if expr not in config.expressions or light not in config.lightings:
                raise ConfigError(f"sample target ({expr}, {light}) is not among the configured classes")
    if check_manifest and (config.manifest is None or not Path(config.manifest).is_file()):
        raise ConfigError(MSG_MANIFEST_MISSING.format(path=config.manifest))
    if check_q_checkpoint and config.loss.lambda_qual > 0:
        if not config.q_checkpoint:
            raise ConfigError(MSG_Q_MISSING)
        if not Path(config.q_checkpoint).is_file():
            raise ConfigError(MSG_Q_NOT_FOUND.format(path=config.q_checkpoint))
