"""The StarGAN v2 loss object: four phases per iteration, as in the authors' solver.

    loss = StarGANv2Loss(nets, D, opts)
    loss.accumulate_gradients("D_latent", batch)   # D on real x and G(x, M(z, y_trg))
    loss.accumulate_gradients("D_ref", batch)      # D on real x and G(x, E(x_ref, y_trg))
    loss.accumulate_gradients("G_latent", batch)   # into G, M and E (the trainer steps all three)
    loss.accumulate_gradients("G_ref", batch)      # into G (the trainer steps G only)

`batch`: image (B, 3, H, W) in [-1, 1], domain (B,) source domains, target_domain (B,),
reference / reference2 (B, 3, H, W) two images of the target domain, z / z2 (B, latent_dim),
lambda_ds (float, this iteration's decayed weight). All randomness comes in with the batch.

D: L = BCE(D(x, y), 1) + BCE(D(G(x, s), y_trg), 0) + lambda_reg * R1, with
   R1 = 0.5 * E[ ||grad_x D(x, y)||^2 ] on real images (non-saturating loss).
G: L = BCE(D(G(x, s), y_trg), 1) + lambda_sty * |s - E(G(x, s), y_trg)|
       - lambda_ds * |G(x, s) - G(x, s2)| + lambda_cyc * |x - G(G(x, s), E(x, y))|,
   where s, s2 come from (z, z2) or (reference, reference2); G(x, s2) is detached.
Stats, per guide (latent / ref): Loss/D/<guide>/{real,fake,reg,total},
Loss/G/<guide>/{adv,sty,ds,cyc,total}.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from legan.loss import requires_grad
from legan.stargan_v2.networks import StarGANv2Options

PHASES = ("D_latent", "D_ref", "G_latent", "G_ref")
MSG_BAD_PHASE = "phase must be one of " + ", ".join(PHASES) + ", got {phase!r}"


def adversarial_loss(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Non-saturating GAN loss: binary cross-entropy of the logits against all-`target`."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def r1_penalty(d_out: torch.Tensor, x_in: torch.Tensor) -> torch.Tensor:
    """0.5 * mean over the batch of the squared gradient norm of D at real images."""
    (grad,) = torch.autograd.grad(d_out.sum(), x_in, create_graph=True)
    return 0.5 * grad.pow(2).flatten(1).sum(1).mean()


class StarGANv2Loss:
    def __init__(self, nets: nn.Module, D: nn.Module, opts: StarGANv2Options) -> None:
        self.nets, self.D, self.opts = nets, D, opts  # nets: StarGANv2Translator (training copy)

    def _target_style(self, batch: dict, guide: str, second: bool = False) -> torch.Tensor:
        if guide == "latent":
            return self.nets.mapping(batch["z2" if second else "z"], batch["target_domain"])
        return self.nets.style_encoder(batch["reference2" if second else "reference"], batch["target_domain"])

    def accumulate_gradients(self, phase: str, batch: dict) -> dict[str, torch.Tensor]:
        if phase not in PHASES:
            raise ValueError(MSG_BAD_PHASE.format(phase=phase))
        kind, guide = phase.split("_")
        guide = "latent" if guide == "latent" else "ref"
        return self._phase_d(batch, guide) if kind == "D" else self._phase_g(batch, guide)

    def _phase_d(self, batch: dict, guide: str) -> dict[str, torch.Tensor]:
        x_real = batch["image"].detach().requires_grad_(True)  # (B, 3, H, W)
        out = self.D(x_real, batch["domain"])  # (B,)
        loss_real = adversarial_loss(out, 1.0)
        loss_reg = r1_penalty(out, x_real)
        with torch.no_grad():
            x_fake = self.nets.generator(batch["image"], self._target_style(batch, guide))
        loss_fake = adversarial_loss(self.D(x_fake, batch["target_domain"]), 0.0)
        total = loss_real + loss_fake + self.opts.lambda_reg * loss_reg
        total.backward()
        p = f"Loss/D/{guide}/"
        return {p + "real": loss_real.detach(), p + "fake": loss_fake.detach(), p + "reg": loss_reg.detach(),
                p + "total": total.detach()}

    def _phase_g(self, batch: dict, guide: str) -> dict[str, torch.Tensor]:
        o = self.opts
        x_real, y_org, y_trg = batch["image"], batch["domain"], batch["target_domain"]
        with requires_grad(self.D, False):  # D is not trained here
            s_trg = self._target_style(batch, guide)
            x_fake = self.nets.generator(x_real, s_trg)  # (B, 3, H, W)
            loss_adv = adversarial_loss(self.D(x_fake, y_trg), 1.0)
            loss_sty = (self.nets.style_encoder(x_fake, y_trg) - s_trg).abs().mean()
            x_fake2 = self.nets.generator(x_real, self._target_style(batch, guide, second=True)).detach()
            loss_ds = (x_fake - x_fake2).abs().mean()  # diversity: maximised (negative weight)
            s_org = self.nets.style_encoder(x_real, y_org)
            loss_cyc = (self.nets.generator(x_fake, s_org) - x_real).abs().mean()
            total = (loss_adv + o.lambda_sty * loss_sty - float(batch["lambda_ds"]) * loss_ds
                     + o.lambda_cyc * loss_cyc)
        total.backward()
        p = f"Loss/G/{guide}/"
        return {p + "adv": loss_adv.detach(), p + "sty": loss_sty.detach(), p + "ds": loss_ds.detach(),
                p + "cyc": loss_cyc.detach(), p + "total": total.detach()}
