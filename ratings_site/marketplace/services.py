"""What researchers (admin, API) and the beat task do with a marketplace study. Decisions
that move money go through `money.money_move`: permission, audit row, marketplace call."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from mturk.costs import bonus_cost, total_cost
from ratings_site.crowd.providers import provider_for
from ratings_site.core.errors import ServiceError
from ratings_site.studies.models import Study

from .common import production_confirm
from .models import MarketplaceSettings, MarketplaceSubmission, MoneyAction, PublishedTask
from .money import money_move

MARKETPLACES = ("mturk", "prolific")
MSG_NOT_MARKETPLACE = "{study} uses the {provider} provider, not a marketplace."


@dataclass
class CostLine:
    label: str
    amount: Decimal


@dataclass
class CostSheet:
    lines: list[CostLine] = field(default_factory=list)
    total: Decimal = Decimal("0.00")
    pending: Decimal = Decimal("0.00")  # still to publish
    committed: Decimal = Decimal("0.00")  # already on the marketplace
    budget_cap: Decimal | None = None


def marketplace_provider(study: Study):
    if study.provider not in MARKETPLACES:
        raise ServiceError(MSG_NOT_MARKETPLACE.format(study=study, provider=study.provider), code="not_marketplace")
    return provider_for(study)


def cost_sheet(market: MarketplaceSettings) -> CostSheet:
    """The exact cost of the whole study before launch (MTurk: mturk.costs, fee by fee)."""
    study = market.study
    if study.provider == "mturk":
        from .mturk_specs import committed_cost, launch_costs

        full, pending = launch_costs(study, market)
        planned_bonus = Decimal("0.00")
        if market.bonus_amount > 0:
            planned_bonus = total_cost(bonus_cost(market.bonus_amount) for _ in range(full.assignments)).total
        lines = [
            CostLine(f"rewards: {full.assignments} assignments x ${market.reward_per_batch}", full.rewards),
            CostLine("MTurk commission (20%, 40% at 10+ assignments, at least $0.01 each)", full.commission),
            CostLine("Masters fee (5%)", full.masters_fees),
            CostLine("launch total", full.total),
            CostLine(f"optional bonuses (${market.bonus_amount} each, with 20% commission)", planned_bonus),
        ]
        return CostSheet(lines, full.total, pending.total, committed_cost(study), market.budget_cap)
    if study.provider == "prolific":
        provider = provider_for(study)
        places = provider.places
        rewards = places * market.reward_per_batch
        total = provider.launch_cost(market)
        task = provider.task()
        committed = total if task and task.external_id else Decimal("0.00")
        lines = [
            CostLine(f"rewards: {places} places x {market.reward_per_batch}", rewards),
            CostLine(f"Prolific service fee ({market.prolific_fee_rate:%})", total - rewards),
            CostLine("launch total", total),
        ]
        return CostSheet(lines, total, total - committed, committed, market.budget_cap)
    raise ServiceError(MSG_NOT_MARKETPLACE.format(study=study, provider=study.provider), code="not_marketplace")


def launch_check(*, study: Study) -> list[str]:
    return marketplace_provider(study).check_launch()


def production_launch_confirm(*, market: MarketplaceSettings, user) -> MarketplaceSettings:
    return production_confirm(market=market, user=user, full_cost=cost_sheet(market).total)


def publishing_unfinished(study: Study) -> bool:
    tasks = PublishedTask.objects.filter(study=study, provider=study.provider, environment=study.provider_environment)
    if study.provider == "mturk":
        return tasks.exclude(external_id="").count() < study.batches.count()
    return not tasks.filter(status__in=[PublishedTask.Status.PUBLISHED, PublishedTask.Status.PAUSED]).exists()


def publish_resume(*, study: Study) -> None:
    """Publish what is not yet on the marketplace (a failed launch resumes where it stopped)."""
    if study.status != Study.Status.RUNNING:
        raise ServiceError(f"{study} is {study.status}: launch it first (Studies > Launch).", code="not_running", status=409)
    marketplace_provider(study).launch()


def submissions_sync(*, study: Study):
    return marketplace_provider(study).sync()


def hits_close(*, study: Study) -> list[str]:
    provider = marketplace_provider(study)
    if not hasattr(provider, "close"):
        return [f"{study.provider} studies are closed on the marketplace itself."]
    return provider.close()


# --- a researcher's decisions on one submission (admin and API alike) ---------------------

def submission_approve(*, submission: MarketplaceSubmission, actor=None, via: str = "admin") -> None:
    study = submission.study
    money_move(action=MoneyAction.Action.APPROVE, study=study, submission=submission, actor=actor, via=via,
               amount=_reward(study), call=lambda: marketplace_provider(study).approve(submission))


def submission_reject(*, submission: MarketplaceSubmission, actor=None, via: str = "admin", feedback: str = "") -> None:
    study = submission.study
    feedback = feedback or study.marketplace.rejection_feedback
    money_move(action=MoneyAction.Action.REJECT, study=study, submission=submission, actor=actor, via=via, detail=feedback,
               call=lambda: marketplace_provider(study).reject(submission, feedback))


def submission_bonus(*, submission: MarketplaceSubmission, actor=None, via: str = "admin", amount=None,
                     reason: str = "") -> Decimal:
    """Pay a bonus (the study's default amount and reason unless given); returns its cost."""
    study = submission.study
    amount = study.marketplace.bonus_amount if amount in (None, "") else amount
    reason = reason or study.marketplace.bonus_reason
    def answer(cost) -> str:
        reference = MarketplaceSubmission.objects.values_list("bonus_reference", flat=True).get(pk=submission.pk)
        return f"bonus sent: reference {reference}, charged {cost} with the marketplace's fee"

    return money_move(action=MoneyAction.Action.BONUS, study=study, submission=submission, actor=actor, via=via,
                      amount=amount, detail=reason, describe=answer,
                      call=lambda: marketplace_provider(study).bonus(submission, amount, reason))


def submission_block(*, submission: MarketplaceSubmission, actor=None, via: str = "admin",
                     reason: str = "Blocked by the researcher after review.") -> None:
    study = submission.study
    money_move(action=MoneyAction.Action.BLOCK, study=study, submission=submission, actor=actor, via=via, detail=reason,
               call=lambda: marketplace_provider(study).block(submission, reason))


def _reward(study: Study):
    market = MarketplaceSettings.objects.filter(study=study).first()
    return market.reward_per_batch if market else None
