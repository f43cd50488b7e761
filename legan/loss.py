"""The LEGAN loss object: owns the D and G training phases and reports every term by name.

    loss = LeganLoss(G, D, n_expressions=6, config=LossConfig(), identity_net=T, quality_net=Q)
    stats = loss.accumulate_gradients("D", batch)   # backward into D only
    stats = loss.accumulate_gradients("G", batch)   # backward into G only

`batch` holds tensors on the training device: image (B, 3, H, W) in [-1, 1], mask (B, 1, H, W)
in {0, 1}, expression / lighting (B,) source labels, target_expression / target_lighting (B,)
and gp_alpha (B,) in [0, 1]. All randomness (targets, interpolation weights) comes in with the
batch, so the loss is a deterministic function of its inputs (exact resume, DDP equivalence).

Reported stats (0-dim detached tensors; unweighted terms, plus the weighted totals):
  Loss/D/real  -mean D_src(x)          Loss/G/adv   -mean D_src(G(x, f_b))
  Loss/D/fake   mean D_src(G(x, f_b))  Loss/G/cls   CE of D_cls on G(x, f_b) against f_b
  Loss/D/gp     gradient penalty       Loss/G/rec   L1(x, G(G(x, f_b), f_a))
  Loss/D/cls    CE of D_cls(x) vs f_a  Loss/G/id    1 - cos(T(x), T(G(x, f_b)))
  Loss/D/total                         Loss/G/qual  eq. 6 through Q on hull-masked images
                                       Loss/G/tv    TV(G(x, f_b)) + TV(G(G(x, f_b), f_a))
                                       Loss/G/total
The identity and quality terms are skipped (not reported) when their weight is 0 or their
network is None. T and Q are frozen here: eval mode, requires_grad False; gradients still flow
*through* them into G.

Mixed precision (autocast_dtype, e.g. torch.bfloat16): only the forward passes of G and D run
under autocast. T, Q, the gradient penalty (its D pass and double backward) and every loss
reduction run in fp32 (tests/legan/test_amp.py bounds the bf16 / fp32 difference).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Optional

import torch
from torch import nn

from legan import loss_terms as terms

PHASES = ("D", "G")
MSG_BAD_PHASE = "phase must be 'D' or 'G', got {phase!r}"
MSG_MISSING_NETWORK = "lambda_{name} > 0 but no {name} network was given"


@dataclass
class LossConfig:
    lambda_gp: float = 10.0
    lambda_cls: float = 20.0  # lambda_1
    lambda_rec: float = 10.0  # lambda_2
    lambda_id: float = 10.0  # lambda_3
    lambda_qual: float = 0.5  # lambda_4
    lambda_tv: float = 1e-7  # lambda_5
    target_quality: float = 8.0  # q in eq. 6 (5 realistic ... 10 hyper-realistic)
    quality_input_size: int = 128  # Q reads 128x128 masked faces
    mask_fill: float = -1.0  # background value of hull-masked images (black)

    def to_dict(self) -> dict:
        return asdict(self)


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and no weight gradients; it stays differentiable with respect to its input."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a DistributedDataParallel wrapper (or the module itself)."""
    return module.module if hasattr(module, "module") and isinstance(
        module, torch.nn.parallel.DistributedDataParallel) else module


@contextlib.contextmanager
def requires_grad(module: nn.Module, flag: bool):
    saved = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(flag)
    try:
        yield
    finally:
        for p, s in zip(module.parameters(), saved):
            p.requires_grad_(s)


class LeganLoss:
    def __init__(self, G: nn.Module, D: nn.Module, *, n_expressions: int,
                 config: Optional[LossConfig] = None, identity_net: Optional[nn.Module] = None,
                 quality_net: Optional[nn.Module] = None, autocast_dtype: Optional[torch.dtype] = None,
                 scalers: Optional[dict] = None) -> None:
        self.G, self.D = G, D
        self.n_expressions = n_expressions
        self.config = config or LossConfig()
        self.use_identity = self.config.lambda_id > 0
        self.use_quality = self.config.lambda_qual > 0
        if self.use_identity and identity_net is None:
            raise ValueError(MSG_MISSING_NETWORK.format(name="id"))
        if self.use_quality and quality_net is None:
            raise ValueError(MSG_MISSING_NETWORK.format(name="qual"))
        self.identity_net = freeze(identity_net) if identity_net is not None else None
        self.quality_net = freeze(quality_net) if quality_net is not None else None
        self.autocast_dtype = autocast_dtype
        self.scalers = scalers or {}

    # -- helpers -------------------------------------------------------------------------
    def _autocast(self, device: torch.device):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)

    def _backward(self, phase: str, total: torch.Tensor) -> None:
        scaler = self.scalers.get(phase)
        (scaler.scale(total) if scaler is not None else total).backward()

    def _quality(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        masked = terms.apply_mask(image.float(), mask, self.config.mask_fill)
        return self.quality_net(terms.resize_for(masked, self.config.quality_input_size))  # (B,)

    # -- phases --------------------------------------------------------------------------
    def accumulate_gradients(self, phase: str, batch: dict) -> dict[str, torch.Tensor]:
        if phase not in PHASES:
            raise ValueError(MSG_BAD_PHASE.format(phase=phase))
        return self._phase_d(batch) if phase == "D" else self._phase_g(batch)

    def _phase_d(self, batch: dict) -> dict[str, torch.Tensor]:
        cfg = self.config
        real = batch["image"]  # (B, 3, H, W)
        with torch.no_grad(), self._autocast(real.device):
            # The plain G: no DDP bookkeeping for a forward that never backpropagates.
            fake = unwrap(self.G)(real, batch["target_expression"], batch["target_lighting"]).image
        b = real.shape[0]
        with self._autocast(real.device):
            src, cls = self.D(torch.cat([real, fake.to(real.dtype)], 0))  # one pass for both halves
        critic = terms.critic_value(src.float())  # (2B,)
        d_real = -critic[:b].mean()
        d_fake = critic[b:].mean()
        d_cls = terms.classification_loss(cls[:b], batch["expression"], batch["lighting"], self.n_expressions)

        # Gradient penalty in fp32 (outside autocast): fp16 gradient norms are too coarse.
        alpha = batch["gp_alpha"].view(-1, 1, 1, 1).to(real.dtype)
        x_hat = (alpha * real.float() + (1 - alpha) * fake.float()).detach().requires_grad_(True)
        gp = terms.gradient_penalty(lambda x: terms.critic_value(self.D(x)[0]), x_hat)

        total = d_real + d_fake + cfg.lambda_gp * gp + cfg.lambda_cls * d_cls
        self._backward("D", total)
        return {"Loss/D/real": d_real.detach(), "Loss/D/fake": d_fake.detach(),
                "Loss/D/gp": gp.detach(), "Loss/D/cls": d_cls.detach(), "Loss/D/total": total.detach()}

    def _phase_g(self, batch: dict) -> dict[str, torch.Tensor]:
        cfg = self.config
        real, mask = batch["image"], batch["mask"]
        stats: dict[str, torch.Tensor] = {}
        D = unwrap(self.D)  # D gets no gradient in this phase: keep DDP out of it
        with requires_grad(D, False):
            # Mixed precision covers G and D only; the frozen T and Q, and every loss
            # reduction below, run in fp32 on fp32 copies of the images.
            with self._autocast(real.device):
                fake = self.G(real, batch["target_expression"], batch["target_lighting"]).image  # (B, 3, H, W)
                src, cls = D(fake)
                rec = self.G(fake, batch["expression"], batch["lighting"]).image  # cycle back to f_a
            fake, rec = fake.float(), rec.float()
            g_adv = -terms.critic_value(src.float()).mean()
            g_cls = terms.classification_loss(cls, batch["target_expression"], batch["target_lighting"],
                                              self.n_expressions)
            g_rec = terms.reconstruction_loss(real, rec)
            g_tv = terms.total_variation(fake) + terms.total_variation(rec)
            total = g_adv + cfg.lambda_cls * g_cls + cfg.lambda_rec * g_rec + cfg.lambda_tv * g_tv
            stats.update({"Loss/G/adv": g_adv, "Loss/G/cls": g_cls, "Loss/G/rec": g_rec, "Loss/G/tv": g_tv})
            if self.use_identity:
                with torch.no_grad():
                    emb_real = self.identity_net(real.float())  # (B, E)
                g_id = terms.identity_loss(emb_real, self.identity_net(fake))
                total = total + cfg.lambda_id * g_id
                stats["Loss/G/id"] = g_id
            if self.use_quality:
                with torch.no_grad():
                    q_real = self._quality(real, mask)  # (B,)
                g_qual = terms.quality_loss(self._quality(fake, mask), q_real, self._quality(rec, mask),
                                            cfg.target_quality)
                total = total + cfg.lambda_qual * g_qual
                stats["Loss/G/qual"] = g_qual
        self._backward("G", total)
        stats["Loss/G/total"] = total
        return {k: v.detach().float() for k, v in stats.items()}
