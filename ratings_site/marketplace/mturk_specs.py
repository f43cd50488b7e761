"""A study's batches as MTurk HitSpecs, and what they cost (mturk.costs, exact Decimal)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from mturk import qualifications as q
from mturk.costs import Cost, bonus_cost, total_cost
from mturk.hits import HitSpec
from ratings_site.studies.models import Batch, Study
from ratings_site.studies.selectors import planned_batch_sizes

from .common import site_url
from .models import MarketplaceSettings, MarketplaceSubmission, PublishedTask

PROVIDER = "mturk"
MSG_BAD_QUALIFICATIONS = "Marketplace qualifications must be a JSON object, e.g. {\"approval_rate\": 98}."


def question_url(study: Study) -> str:
    return f"{site_url()}/mturk/{study.pk}/"


def qualifications_from(market: MarketplaceSettings, environment: str) -> tuple:
    raw = market.qualifications or {}
    if not isinstance(raw, dict):
        raise ValueError(MSG_BAD_QUALIFICATIONS)
    out = []
    if raw.get("approval_rate") is not None:
        out.append(q.approval_rate_at_least(int(raw["approval_rate"])))
    if raw.get("approved_hits") is not None:
        out.append(q.approved_hits_at_least(int(raw["approved_hits"])))
    if raw.get("locales"):
        out.append(q.locale_in(list(raw["locales"])))
    if raw.get("masters"):
        out.append(q.masters(environment))  # the id differs between sandbox and production
    for custom in raw.get("custom", []):
        out.append(q.custom(custom["id"], custom["comparator"], custom.get("values", ())))
    return tuple(out)


@dataclass(frozen=True)
class PlannedHit:
    batch_index: int
    spec: HitSpec


def hit_specs(study: Study, market: MarketplaceSettings) -> list[PlannedHit]:
    environment = study.provider_environment
    qualifications = qualifications_from(market, environment)
    return [
        PlannedHit(
            index,
            HitSpec(
                study_id=str(study.pk),
                batch_index=index,
                question_url=question_url(study),
                title=market.title,
                description=market.description,
                reward=market.reward_per_batch,
                raters=study.raters_per_batch,
                images_in_batch=max(size, 1),
                seconds_per_image=float(study.viewing_seconds),
                duration_margin_s=market.duration_margin_minutes * 60,
                lifetime_s=market.lifetime_hours * 3600,
                auto_approval_delay_s=market.auto_approval_hours * 3600,
                keywords=market.keyword_list or ("image", "rating"),
                qualifications=qualifications,
            ),
        )
        for index, size in sorted(planned_batch_sizes(study).items())
    ]


def published_tasks(study: Study):
    return PublishedTask.objects.filter(study=study, provider=PROVIDER, environment=study.provider_environment)


def committed_cost(study: Study) -> Decimal:
    """Money already committed in this environment: the HITs that exist and bonuses paid."""
    total = published_tasks(study).exclude(external_id="").aggregate(s=Sum("cost"))["s"] or Decimal("0.00")
    bonuses = MarketplaceSubmission.objects.filter(
        study=study, provider=PROVIDER, environment=study.provider_environment, bonus_paid__gt=0
    ).values_list("bonus_paid", flat=True)
    return total + total_cost(bonus_cost(b) for b in bonuses).total


def launch_costs(study: Study, market: MarketplaceSettings) -> tuple[Cost, Cost]:
    """(every batch, the batches still to publish), fees included."""
    planned = hit_specs(study, market)
    published_tokens = set(published_tasks(study).exclude(external_id="").values_list("request_token", flat=True))
    full = total_cost(p.spec.cost() for p in planned)
    pending = total_cost(p.spec.cost() for p in planned if p.spec.token(study.provider_environment) not in published_tokens)
    return full, pending
