"""Reference images for StarGAN v2: target domains drawn uniformly among the (expression,
lighting) combinations the data holds, and two random images of each drawn domain (the
authors' ReferenceDataset), all from a seeded generator so that a resumed run draws the same."""

from __future__ import annotations

import torch

from legan.stargan_v2.networks import domain_index

MSG_EMPTY = "the dataset is empty: StarGAN v2 needs reference images"


def item_domains(dataset, n_lightings: int) -> torch.Tensor:
    """(N,) domain id of every item; read from a LeganDataset's manifest without decoding images."""
    frame = getattr(dataset, "frame", None)
    if frame is not None and hasattr(dataset, "expressions"):
        e = torch.tensor([dataset.expressions.index(v) for v in frame["expression"]])
        l = torch.tensor([dataset.lightings.index(v) for v in frame["lighting"]])
    else:
        items = [dataset[i] for i in range(len(dataset))]
        e = torch.tensor([int(it["expression"]) for it in items])
        l = torch.tensor([int(it["lighting"]) for it in items])
    return domain_index(e, l, n_lightings)


class ReferenceSampler:
    def __init__(self, dataset, n_lightings: int) -> None:
        if len(dataset) == 0:
            raise ValueError(MSG_EMPTY)
        self.dataset = dataset
        domains = item_domains(dataset, n_lightings)
        self.present = torch.unique(domains)  # sorted domain ids that have images
        self.members = [torch.nonzero(domains == d).flatten() for d in self.present]

    def sample(self, batch: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(target domains (B,), first reference indices (B,), second reference indices (B,))."""
        which = torch.randint(len(self.present), (batch,), generator=rng)
        pick = torch.rand(batch, 2, generator=rng)
        sizes = torch.tensor([len(self.members[w]) for w in which])
        slots = (pick * sizes[:, None]).long().clamp_max(sizes[:, None] - 1)  # (B, 2)
        first = torch.stack([self.members[w][s] for w, s in zip(which, slots[:, 0])])
        second = torch.stack([self.members[w][s] for w, s in zip(which, slots[:, 1])])
        return self.present[which], first, second

    def images(self, indices: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.dataset[int(i)]["image"] for i in indices]).float()  # (B, 3, H, W)
