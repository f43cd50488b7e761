"""One frozen copy per device of the PyTorch port of dlib's face ResNet (legan.identity),
shared by match, verified, LPIPS-proxy and FD-dlib128, with taps on its intermediate levels."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from legan.identity import IdentityNetwork, get_identity_network
from legan.identity.weights import DLIB_WEIGHTS_ENV, default_dlib_weights_path

# The last residual block of each resolution level of dlib's anet_type (input side first):
# 32 ch @ 35x35, 64 @ 17x17, 128 @ 8x8, 256 @ 3x3 (at its 150 px input), and level0's 256 @ 2x2
# is skipped (a 2x2 map mostly repeats level1). Five taps like LPIPS's five AlexNet relus would
# include the stem too; dlib's stem is a single 7x7 conv on raw pixels, close to a colour
# difference, so it is left out.
LEVEL_BLOCKS = (2, 6, 9, 12)

ERR_WEIGHTS = ("the dlib face-recognition weights were not found: install the 'face-recognition-models' "
               "package (it ships dlib_face_recognition_resnet_model_v1.dat) or set ${env} to that file ({detail})")

_lock = threading.Lock()
_cache: dict[tuple[str, str], IdentityNetwork] = {}


def dlib_weights_problem() -> str:
    """'' when the dlib weights can be found, else why not (the reason an unavailable metric reports)."""
    try:
        path = default_dlib_weights_path()
    except FileNotFoundError as exc:
        return ERR_WEIGHTS.format(env=DLIB_WEIGHTS_ENV, detail=exc)
    if not Path(path).is_file():
        return ERR_WEIGHTS.format(env=DLIB_WEIGHTS_ENV, detail=f"{path} does not exist")
    return ""


def dlib_network_or_problem(device: torch.device) -> tuple[IdentityNetwork | None, str]:
    """(the network, "") when its weights can be found, else (None, why not): what a metric
    built on it needs to be available or to say why it is not."""
    problem = dlib_weights_problem()
    return (None, problem) if problem else (dlib_network(device), "")


def dlib_network(device: torch.device) -> IdentityNetwork:
    """The frozen IdentityNetwork('dlib') on `device`, loaded once per process and device."""
    key = (str(default_dlib_weights_path()), str(device))
    with _lock:
        if key not in _cache:
            _cache[key] = get_identity_network("dlib").to(device).eval()
        return _cache[key]


def dlib_descriptors_and_levels(net: IdentityNetwork, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """x (B, 3, H, W) in [-1, 1] -> (B, 128) descriptors and the LEVEL_BLOCKS activations
    [(B, C_l, H_l, W_l)], from one forward pass (hooks on the port's residual blocks)."""
    levels: dict[int, torch.Tensor] = {}
    handles = [net.backbone.blocks[i].register_forward_hook(
        lambda _module, _inputs, out, i=i: levels.__setitem__(i, out)) for i in LEVEL_BLOCKS]
    try:
        descriptors = net(x)  # (B, 128)
    finally:
        for handle in handles:
            handle.remove()
    return descriptors, [levels[i] for i in LEVEL_BLOCKS]
