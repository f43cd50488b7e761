"""bf16 autocast covers G and D only: T, Q, the gradient penalty and the loss reductions stay
in fp32, and bf16 losses agree with fp32 ones within a stated tolerance (CPU autocast)."""

import pytest
import torch

from legan import build
from legan.loss import LeganLoss, LossConfig
from tests.legan.core_fixtures import SIZE, TinyFaceDataset, tiny_config, tiny_identity_net, tiny_quality_net

torch.set_num_threads(1)

# bf16 keeps 8 mantissa bits (relative rounding 2^-9 per value). Measured here the terms move
# by at most 0.45 % (Loss/G/id); the tolerance is 2 % of the term plus an absolute 1e-3 for
# terms near 0 (the critic values at initialisation are about 0.02).
REL_TOL, ABS_TOL = 0.02, 1e-3


def _batch():
    ds = TinyFaceDataset(n=4)
    items = [ds[i] for i in range(4)]
    raw = {"image": torch.stack([i["image"] for i in items]), "mask": torch.stack([i["mask"] for i in items]),
           "expression": torch.tensor([i["expression"] for i in items]),
           "lighting": torch.tensor([i["lighting"] for i in items])}
    return build.prepare_batch(raw, torch.device("cpu"), torch.Generator().manual_seed(5), 3, 3)


def _losses(dtype, hooks=None):
    G, D = build.build_networks(tiny_config(), torch.device("cpu"))
    T, Q = tiny_identity_net(), tiny_quality_net()
    for name, net in (hooks or {}).items():
        {"T": T, "Q": Q, "D": D}[name].register_forward_hook(net)
    loss = LeganLoss(G, D, n_expressions=3, config=LossConfig(quality_input_size=SIZE), identity_net=T,
                     quality_net=Q, autocast_dtype=dtype)
    batch = _batch()
    return {**loss.accumulate_gradients("D", batch), **loss.accumulate_gradients("G", batch)}


def test_bf16_losses_agree_with_fp32_within_tolerance():
    fp32, bf16 = _losses(None), _losses(torch.bfloat16)
    assert fp32.keys() == bf16.keys() and "Loss/G/qual" in fp32 and "Loss/G/id" in fp32
    for name, ref in fp32.items():
        assert bf16[name].dtype == torch.float32
        assert float(bf16[name]) == pytest.approx(float(ref), rel=REL_TOL, abs=ABS_TOL), name
    assert any(float(bf16[k]) != float(fp32[k]) for k in fp32)  # autocast really ran in bf16


def test_identity_quality_and_gradient_penalty_run_in_fp32_under_bf16():
    seen = {"T": [], "Q": [], "D": []}

    def recorder(name):
        return lambda module, args, out: seen[name].append(
            (args[0].dtype, (out[0] if isinstance(out, tuple) else out).dtype, torch.is_autocast_enabled("cpu")))

    _losses(torch.bfloat16, hooks={n: recorder(n) for n in seen})
    for name in ("T", "Q"):
        assert seen[name] and all(i == o == torch.float32 and not ac for i, o, ac in seen[name]), name
    # D: the real/fake pass and the G phase's pass under autocast, the penalty's pass in fp32
    assert [ac for *_, ac in seen["D"]] == [True, False, True]
    assert seen["D"][0][1] == torch.bfloat16 and seen["D"][1][1] == torch.float32
