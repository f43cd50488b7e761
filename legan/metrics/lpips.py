"""LPIPS per pair: the `lpips` package (AlexNet) when it and its weights are present, and the
offline LPIPS-proxy over the dlib face ResNet. They are different numbers under different names.

LPIPS (Zhang et al. 2018, lpips==0.1.4, net='alex', version 0.1) needs, on the user's machine:
  * the packages `lpips` and `torchvision` (lpips imports torchvision; install a torchvision
    built for the installed torch, e.g. `pip install lpips==0.1.4 torchvision==<match>`),
  * the AlexNet ImageNet backbone `alexnet-owt-7be5be79.pth` in `$TORCH_HOME/hub/checkpoints/`
    (torch's cache: `torch.hub.get_dir()`), or anywhere named by $LEGAN_LPIPS_ALEXNET_WEIGHTS
    or the `backbone_weights` option,
  * the learned linear layers `lpips/weights/v0.1/alex.pth`, shipped inside the lpips package.
The backbone is built untrained (pnet_rand) and loaded from that file here, so torchvision is
never asked to download anything.

LPIPS-proxy (offline default): LPIPS's formula without its learned weights, on the
intermediate activations of the project's PyTorch port of dlib's face ResNet (the image is
mapped to dlib's 150x150 input as legan.identity does):
    d(x, y) = mean over levels l of  mean over (h, w) of  sum_c (u_l(x) - u_l(y))^2,
    u_l = activations of level l divided, at each position, by their L2 norm over channels.
It is a face-recognition network's notion of perceptual difference, not LPIPS's calibrated
human-judgement one; it is reported as LPIPS-proxy and never as LPIPS.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch

from .base import PairMetric, hub_weights_path
from .dlib_backbone import dlib_descriptors_and_levels, dlib_network_or_problem

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's AlexNet_Weights.IMAGENET1K_V1
ALEXNET_ENV = "LEGAN_LPIPS_ALEXNET_WEIGHTS"
LINEAR_RELATIVE = Path("weights") / "v0.1" / "alex.pth"
NORM_EPS = 1e-10  # lpips.normalize_tensor's eps

ERR_MODULE = "the '{module}' package is not importable"
ERR_FILE = "{what} not found at {path}"
ERR_LPIPS = "LPIPS (lpips package, AlexNet) needs: {problems}; install with `pip install lpips==0.1.4 torchvision` " \
            "(a torchvision built for this torch) and place {file} in {folder} (or set ${env})"
ERR_BACKBONE_KEYS = "{path} is not torchvision's AlexNet state dict (missing {missing})"


def default_alexnet_path() -> Path:
    return hub_weights_path(ALEXNET_FILE, ALEXNET_ENV)


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def lpips_problems(backbone_weights: Path, linear_weights: Path | None) -> list[str]:
    """What is missing for the real LPIPS, checked without importing or downloading anything."""
    problems = [ERR_MODULE.format(module=m) for m in ("lpips", "torchvision") if importlib.util.find_spec(m) is None]
    if not backbone_weights.is_file():
        problems.append(ERR_FILE.format(what="AlexNet backbone weights", path=backbone_weights))
    if linear_weights is None:
        problems.append(ERR_FILE.format(what="LPIPS linear weights", path=f"<lpips package>/{LINEAR_RELATIVE}"))
    elif not linear_weights.is_file():
        problems.append(ERR_FILE.format(what="LPIPS linear weights", path=linear_weights))
    return problems


class LPIPS(PairMetric):
    name = "lpips"
    display_name = "LPIPS"
    higher_is_better = False

    def __init__(self, device="cpu", backbone_weights: str | os.PathLike | None = None,
                 linear_weights: str | os.PathLike | None = None) -> None:
        super().__init__(device)
        backbone = Path(backbone_weights) if backbone_weights else default_alexnet_path()
        package = _package_dir("lpips")
        linear = Path(linear_weights) if linear_weights else (package / LINEAR_RELATIVE if package else None)
        problems = lpips_problems(backbone, linear)
        if problems:
            self._mark_unavailable(ERR_LPIPS.format(problems="; ".join(problems), file=ALEXNET_FILE,
                                                    folder=backbone.parent, env=ALEXNET_ENV))
            return
        try:
            self._net = self._load(backbone, linear).to(self.device).eval()
        except Exception as exc:  # an import error inside lpips/torchvision, a foreign file: say so
            self._mark_unavailable(f"LPIPS could not be loaded: {type(exc).__name__}: {exc}")

    @staticmethod
    def _load(backbone: Path, linear: Path) -> torch.nn.Module:
        import lpips

        # pnet_rand: build AlexNet untrained (no download), then load the user's file.
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, model_path=str(linear),
                          verbose=False)
        state = torch.load(backbone, map_location="cpu", weights_only=True)
        missing = []
        for name, param in net.net.named_parameters():  # slice<k>.<features index>.<weight|bias>
            key = "features." + name.split(".", 1)[1]
            if key not in state:
                missing.append(key)
                continue
            with torch.no_grad():
                param.copy_(state[key])
        if missing:
            raise ValueError(ERR_BACKBONE_KEYS.format(path=backbone, missing=", ".join(missing)))
        return net.requires_grad_(False)

    def _score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._net(output, target).reshape(-1)  # lpips takes [-1, 1] images; (B,)


def normalised_feature_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """LPIPS's unweighted distance: per level, channel-unit-normalise, squared difference summed
    over channels, mean over positions; then the mean over levels. Lists of (B, C, H, W) -> (B,)."""
    per_level = []
    for fa, fb in zip(a, b):
        ua = fa / (fa.norm(dim=1, keepdim=True) + NORM_EPS)
        ub = fb / (fb.norm(dim=1, keepdim=True) + NORM_EPS)
        per_level.append((ua - ub).pow(2).sum(dim=1).mean(dim=(1, 2)))  # (B,)
    return torch.stack(per_level).mean(dim=0)


class LPIPSProxy(PairMetric):
    name = "lpips-proxy"
    display_name = "LPIPS-proxy"
    higher_is_better = False

    def __init__(self, device="cpu") -> None:
        super().__init__(device)
        self._net, problem = dlib_network_or_problem(self.device)
        if problem:
            self._mark_unavailable(problem)

    def _score(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _, levels = dlib_descriptors_and_levels(self._net, torch.cat([output, target]))
        b = output.shape[0]
        return normalised_feature_distance([f[:b] for f in levels], [f[b:] for f in levels])
