"""StarGAN v2 baseline: shapes, every loss term's value and sign on a fixed batch, the EMA, the
diversity schedule, exact resume, the evaluation loader and synthesis / CLI integration."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from legan import build
from legan.arch import ModelConfig
from legan.checkpoint import load_checkpoint, load_generator
from legan.checkpoint import load_stargan_v2 as load_translator
from legan.config import ConfigError
from legan.generate import main as generate_main
from runkit.runs import read_stats
from legan.stargan_v2 import StarGANv2Options, StarGANv2Translator
from legan.stargan_v2.loss import StarGANv2Loss, adversarial_loss, r1_penalty
from legan.stargan_v2.networks import Discriminator, Generator, MappingNetwork, StyleEncoder
from legan.stargan_v2.references import ReferenceSampler
from legan.stargan_v2.train import build_v2_networks, diversity_weight, train, update_ema
from runkit.loop import TrainingStopped
from legan.train_cli import main as cli_main
from tests.legan.core_fixtures import EXPRESSIONS, LIGHTINGS, SIZE, TinyFaceDataset, tiny_config

torch.set_num_threads(1)
TINY = dict(dim_in=8, max_conv_dim=16, hidden_dim=16, style_dim=8, latent_dim=4)
N_DOMAINS = len(EXPRESSIONS) * len(LIGHTINGS)


def v2_config(**overrides):
    cfg = tiny_config(**overrides)
    cfg.model = ModelConfig(arch="stargan-v2")
    cfg.stargan_v2 = dict(TINY)
    return cfg


@pytest.fixture(scope="module")
def dataset():
    return TinyFaceDataset(n=24)


def _fixed_batch(opts, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(4, 3, SIZE, SIZE, generator=g) * 2 - 1,
            "domain": torch.tensor([0, 1, 4, 8]), "target_domain": torch.tensor([3, 3, 5, 0]),
            "reference": torch.rand(4, 3, SIZE, SIZE, generator=g) * 2 - 1,
            "reference2": torch.rand(4, 3, SIZE, SIZE, generator=g) * 2 - 1,
            "z": torch.randn(4, opts.latent_dim, generator=g), "z2": torch.randn(4, opts.latent_dim, generator=g),
            "lambda_ds": 0.5}


def _nets(opts, size=SIZE):
    torch.manual_seed(0)
    return StarGANv2Translator(size, EXPRESSIONS, LIGHTINGS, opts), Discriminator(size, N_DOMAINS, opts)


@pytest.mark.parametrize("size", [16, 32, 64])
def test_every_network_has_the_authors_shapes(size):
    opts = StarGANv2Options(**TINY)
    y = torch.tensor([0, 8])
    x = torch.rand(2, 3, size, size) * 2 - 1
    s = MappingNetwork(N_DOMAINS, opts)(torch.randn(2, opts.latent_dim), y)
    assert s.shape == (2, opts.style_dim)
    assert StyleEncoder(size, N_DOMAINS, opts)(x, y).shape == (2, opts.style_dim)
    assert Generator(size, opts)(x, s).shape == (2, 3, size, size)
    assert Discriminator(size, N_DOMAINS, opts)(x, y).shape == (2,)
    # the generator's bottleneck is 16x16 whatever the input size (authors' rule)
    assert len(Generator(size, opts).encode) == int(math.log2(size)) - 4 + 2


def test_non_power_of_two_size_is_refused():
    with pytest.raises(ValueError, match="power-of-two"):
        Generator(48, StarGANv2Options(**TINY))
    with pytest.raises(ConfigError, match="power-of-two"):
        train(v2_config(image_size=48), "/nonexistent-never-created", dataset=TinyFaceDataset(n=8, size=48))


def test_multi_task_discriminator_and_mapping_pick_the_asked_domain():
    opts = StarGANv2Options(**TINY)
    net, D = _nets(opts)
    x = torch.rand(1, 3, SIZE, SIZE).expand(N_DOMAINS, -1, -1, -1)
    all_domains = torch.arange(N_DOMAINS)
    per_domain = D(x, all_domains)
    assert torch.allclose(per_domain, D.main(x[:1]).flatten()[all_domains])
    styles = net.mapping(torch.ones(N_DOMAINS, opts.latent_dim), all_domains)  # one shared z
    assert len({tuple(s.round(decimals=5).tolist()) for s in styles}) == N_DOMAINS  # one head per domain


def test_adversarial_loss_and_r1_values():
    assert adversarial_loss(torch.zeros(3), 1.0).item() == pytest.approx(math.log(2))
    assert adversarial_loss(torch.tensor([2.0]), 1.0).item() == pytest.approx(math.log1p(math.exp(-2)))
    assert adversarial_loss(torch.tensor([2.0]), 0.0).item() == pytest.approx(math.log1p(math.exp(2)))
    w = torch.randn(1, 3, 4, 4)
    x = torch.rand(5, 3, 4, 4, requires_grad=True)
    reg = r1_penalty((x * w).sum((1, 2, 3)), x)  # linear D: gradient w for every sample
    assert reg.item() == pytest.approx(0.5 * w.pow(2).sum().item(), rel=1e-5)


@pytest.mark.parametrize("guide", ["latent", "ref"])
def test_discriminator_phase_terms_match_their_definitions(guide):
    opts = StarGANv2Options(**TINY, lambda_reg=2.0)
    nets, D = _nets(opts)
    batch = _fixed_batch(opts)
    stats = StarGANv2Loss(nets, D, opts).accumulate_gradients(f"D_{guide}", batch)
    p = f"Loss/D/{guide}/"
    x = batch["image"].clone().requires_grad_(True)
    real = D(x, batch["domain"])
    s = (nets.mapping(batch["z"], batch["target_domain"]) if guide == "latent"
         else nets.style_encoder(batch["reference"], batch["target_domain"]))
    fake = D(nets.generator(batch["image"], s), batch["target_domain"])
    (grad,) = torch.autograd.grad(real.sum(), x)
    assert stats[p + "real"].item() == pytest.approx(F.softplus(-real).mean().item(), rel=1e-5)
    assert stats[p + "fake"].item() == pytest.approx(F.softplus(fake).mean().item(), rel=1e-5)
    assert stats[p + "reg"].item() == pytest.approx(0.5 * grad.pow(2).sum((1, 2, 3)).mean().item(), rel=1e-4)
    assert min(stats[p + k].item() for k in ("real", "fake", "reg")) > 0
    assert stats[p + "total"].item() == pytest.approx(
        (stats[p + "real"] + stats[p + "fake"] + 2.0 * stats[p + "reg"]).item(), rel=1e-5)
    # D gets gradients, the generator side none
    assert all(q.grad is not None for q in D.parameters())
    assert all(q.grad is None for q in nets.parameters())


@pytest.mark.parametrize("guide", ["latent", "ref"])
def test_generator_phase_terms_match_their_definitions(guide):
    opts = StarGANv2Options(**TINY, lambda_sty=1.5, lambda_cyc=3.0)
    nets, D = _nets(opts)
    batch = _fixed_batch(opts)
    stats = StarGANv2Loss(nets, D, opts).accumulate_gradients(f"G_{guide}", batch)
    p = f"Loss/G/{guide}/"
    with torch.no_grad():
        if guide == "latent":
            s1 = nets.mapping(batch["z"], batch["target_domain"])
            s2 = nets.mapping(batch["z2"], batch["target_domain"])
        else:
            s1 = nets.style_encoder(batch["reference"], batch["target_domain"])
            s2 = nets.style_encoder(batch["reference2"], batch["target_domain"])
        fake = nets.generator(batch["image"], s1)
        adv = F.softplus(-D(fake, batch["target_domain"])).mean()
        sty = (nets.style_encoder(fake, batch["target_domain"]) - s1).abs().mean()
        ds = (fake - nets.generator(batch["image"], s2)).abs().mean()
        rec = nets.generator(fake, nets.style_encoder(batch["image"], batch["domain"]))
        cyc = (rec - batch["image"]).abs().mean()
    for name, want in (("adv", adv), ("sty", sty), ("ds", ds), ("cyc", cyc)):
        assert stats[p + name].item() == pytest.approx(want.item(), rel=1e-4), name
        assert want.item() > 0
    # the diversity term is maximised: it enters the total with a negative weight
    assert stats[p + "total"].item() == pytest.approx((adv + 1.5 * sty - 0.5 * ds + 3.0 * cyc).item(), rel=1e-4)
    assert all(q.grad is None for q in D.parameters())
    assert all(q.grad is not None for q in nets.generator.parameters())
    assert any(q.grad is not None for q in (nets.mapping if guide == "latent" else nets.style_encoder).parameters())


def test_identical_styles_give_zero_diversity_and_an_unknown_phase_is_refused():
    opts = StarGANv2Options(**TINY)
    nets, D = _nets(opts)
    batch = _fixed_batch(opts)
    batch["z2"] = batch["z"]
    loss = StarGANv2Loss(nets, D, opts)
    assert loss.accumulate_gradients("G_latent", batch)["Loss/G/latent/ds"].item() == 0.0
    with pytest.raises(ValueError, match="phase must be one of"):
        loss.accumulate_gradients("D", batch)


def test_ema_update_is_the_authors_moving_average():
    torch.manual_seed(0)
    model, ema = nn.Linear(3, 2), nn.Linear(3, 2)
    before = [p.detach().clone() for p in ema.parameters()]
    update_ema(model, ema, 0.999)
    for p, e, b in zip(model.parameters(), ema.parameters(), before):
        assert torch.allclose(e, 0.999 * b + 0.001 * p)


def test_diversity_weight_decays_linearly_to_zero():
    opts = StarGANv2Options(lambda_ds=2.0)
    assert [diversity_weight(opts, i, 10) for i in (0, 5, 10, 20)] == [2.0, 1.0, 0.0, 0.0]
    assert diversity_weight(StarGANv2Options(lambda_ds=2.0, ds_iter=4), 2, 10) == 1.0


def test_references_come_from_the_target_domain(dataset):
    refs = ReferenceSampler(dataset, len(LIGHTINGS))
    target, a, b = refs.sample(64, torch.Generator().manual_seed(0))
    domain_of = lambda i: dataset[int(i)]["expression"] * len(LIGHTINGS) + dataset[int(i)]["lighting"]
    assert all(domain_of(i) == t and domain_of(j) == t for t, i, j in zip(target.tolist(), a, b))
    assert set(target.tolist()) == set(refs.present.tolist())


def test_one_training_iteration_moves_the_ema_by_one_thousandth(tmp_path, dataset):
    cfg = v2_config(max_iterations=1, log_every=1)
    result = train(cfg, tmp_path, dataset=dataset)
    payload = load_checkpoint(result.checkpoint_path)
    initial, _, _ = build_v2_networks(cfg, StarGANv2Options(**TINY), torch.device("cpu"))
    for name, start in initial.state_dict().items():
        assert torch.allclose(payload["G"][name], 0.999 * start + 0.001 * payload["nets"][name], atol=1e-6)
    assert not torch.equal(payload["nets"]["generator.from_rgb.weight"], initial.generator.from_rgb.weight)
    stats = read_stats(tmp_path / "stats.jsonl")
    assert stats[0]["Schedule/lambda_ds"] == 1.0
    assert {"Loss/D/latent/reg", "Loss/D/ref/fake", "Loss/G/latent/ds", "Loss/G/ref/cyc"} <= set(stats[0])
    assert (tmp_path / "samples" / "iter-00000001.png").exists() and (tmp_path / "losses.png").exists()


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, dataset):
    cfg = v2_config(max_iterations=8, log_every=3, checkpoint_every=100)  # 6 batches/epoch: crosses an epoch
    full = train(cfg, tmp_path / "full", dataset=dataset)
    calls = {"n": 0}

    def stop_after_four():
        calls["n"] += 1
        return calls["n"] == 4

    with pytest.raises(TrainingStopped) as info:
        train(cfg, tmp_path / "cut", dataset=dataset, should_stop=stop_after_four)
    assert info.value.iteration == 4
    resumed = train(cfg, tmp_path / "cut", dataset=dataset, resume=True)
    a, b = load_checkpoint(full.checkpoint_path), load_checkpoint(resumed.checkpoint_path)
    for key in ("G", "D", "nets"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    for name in a["optimizers"]:
        sa, sb = a["optimizers"][name]["state"], b["optimizers"][name]["state"]
        assert all(torch.equal(sa[i][k], sb[i][k]) for i in sa for k in sa[i]), name
    strip = lambda rows: [{k: v for k, v in r.items() if k != "sec_per_iter"} for r in rows]
    assert strip(read_stats(tmp_path / "full" / "stats.jsonl")) == strip(read_stats(tmp_path / "cut" / "stats.jsonl"))


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("v2run")
    return train(v2_config(max_iterations=2), run, dataset=TinyFaceDataset(n=24)).checkpoint_path


def test_load_translator_translates_with_the_ema_generator(trained_checkpoint, dataset):
    t = load_translator(trained_checkpoint, "cpu")
    assert (t.expressions, t.lightings, t.image_size) == (EXPRESSIONS, LIGHTINGS, SIZE)
    assert torch.equal(t.generator.from_rgb.weight, load_checkpoint(trained_checkpoint)["G"]["generator.from_rgb.weight"])
    x = torch.stack([dataset[i]["image"] for i in range(3)])
    e, l = torch.tensor([0, 1, 2]), torch.tensor([2, 1, 0])
    out = t.translate(x, e, l)
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    assert torch.equal(out, t.translate(x, e, l))  # fixed latent seed: reproducible
    assert torch.allclose(out[1:2], t.translate(x[1:2], e[1:2], l[1:2]), atol=1e-5)  # same code whatever the batch
    by_ref = t.translate(x, e, l, reference=torch.stack([dataset[i]["image"] for i in range(3, 6)]))
    assert by_ref.shape == x.shape and not torch.equal(by_ref, out)
    with pytest.raises(ValueError, match="reference must be"):
        t.translate(x, e, l, reference=x[:, :, :8])
    G, config = load_generator(trained_checkpoint)
    assert isinstance(G, StarGANv2Translator) and config.model.arch == "stargan-v2"
    assert torch.equal(G(x, e, l).image, out)


def test_load_translator_refuses_other_architectures(tmp_path, dataset):
    cfg = tiny_config(max_iterations=1)
    cfg.loss.lambda_id = cfg.loss.lambda_qual = 0.0
    from legan.train import train as train_legan

    ckpt = train_legan(cfg, run_dir=tmp_path, dataset=dataset).checkpoint_path
    with pytest.raises(ValueError, match="not a StarGAN v2"):
        load_translator(ckpt, "cpu")


def test_generate_cli_translates_with_a_stargan_v2_checkpoint(tmp_path, trained_checkpoint, dataset):
    from legan.synthesis import save_image

    save_image(dataset[0]["image"], tmp_path / "face.png")
    code = generate_main(["translate", "--checkpoint", str(trained_checkpoint), "--images", str(tmp_path / "face.png"),
                          "--all", "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert code == 0
    assert len(list((tmp_path / "out").glob("face__*__*.png"))) == N_DOMAINS


def test_train_cli_dispatches_stargan_v2(tmp_path, monkeypatch, capsys, dataset):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image_path,subject,expression,lighting\n")
    monkeypatch.setattr(build, "build_dataset", lambda config: dataset)
    common = ["--manifest", str(manifest), "--expressions", ",".join(EXPRESSIONS), "--lightings", ",".join(LIGHTINGS),
              "--arch", "stargan-v2", "--image-size", "32", "--batch-size", "4", "--num-workers", "0",
              "--outdir", str(tmp_path / "runs"), "--no-progress", "--device", "cpu"]
    common += sum((["--stargan-v2-option", f"{k}={v}"] for k, v in TINY.items()), [])
    assert cli_main(common + ["--dry-run"]) == 0
    checks = json.loads(capsys.readouterr().out)["checks"]
    assert checks["output_shape"] == [1, 3, 32, 32] and checks["domains"] == N_DOMAINS
    assert cli_main(common + ["--max-iterations", "1", "--log-every", "1"]) == 0
    run = tmp_path / "runs" / "00000-stargan-v2"
    assert json.loads((run / "config.json").read_text())["stargan_v2"]["style_dim"] == TINY["style_dim"]
    assert cli_main(["--resume", str(run), "--max-iterations", "2"]) == 0
    assert read_stats(run / "stats.jsonl")[-1]["iteration"] == 2
    assert cli_main(common + ["--stargan-v2-option", "nope=1"]) == 2
    assert "unknown StarGAN v2 option" in capsys.readouterr().err


def test_the_evaluation_suites_loader_dispatches_to_stargan_v2(trained_checkpoint, dataset):
    from legan.translator import load_translator as load_for_evaluation

    t = load_for_evaluation(trained_checkpoint, "cpu", name="StarGAN-v2")
    assert isinstance(t, StarGANv2Translator) and t.name == "StarGAN-v2"
    x = torch.stack([dataset[i]["image"] for i in range(2)])
    out = t.translate(x, torch.tensor([0, 2]), torch.tensor([1, 1]))
    assert out.shape == x.shape and out.device.type == "cpu" and out.dtype == torch.float32
