"""The one door for anything that pays, rejects, blocks or launches on a marketplace.

The admin, the API and the tasks all call `money_move` (through the submission services in
`services.py` or the sync's own gold-check decisions): it checks the action's own
permission for a person (`actor`), or records the task that acted on the study's rules
(`actor=None`), writes an audit row before calling the marketplace and completes it with
the answer, whatever happens.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Callable, TypeVar

from django.utils import timezone

from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import user_may

from .models import MarketplaceSubmission, MoneyAction

T = TypeVar("T")
Action = MoneyAction.Action

PERMISSIONS = {
    Action.APPROVE: "marketplace.approve_submission",
    Action.REJECT: "marketplace.reject_submission",
    Action.BONUS: "marketplace.pay_bonus",
    Action.BLOCK: "marketplace.block_worker",
    Action.LAUNCH: "studies.launch_study",
}
FORBIDDEN = "You may not {action} on a marketplace: it needs the '{perm}' permission."


def money_move(*, action: str, study, call: Callable[[], T], actor=None, via: str = "admin",
               submission: MarketplaceSubmission | None = None, amount=None, detail: str = "",
               describe: Callable[[T], str] | None = None) -> T:
    """Run `call` (the marketplace request) as `action`, audited. `actor`: the person asking
    (checked against the action's permission); None when a task acts on the study's rules,
    named by `via`."""
    row = MoneyAction.objects.create(
        study=study, submission=submission, provider=study.provider, environment=study.provider_environment,
        action=action, amount=_amount(amount), actor=actor if actor is not None and actor.is_authenticated else None,
        via=via[:30], detail=(detail or "")[:500],
    )
    if actor is not None and not user_may(actor, PERMISSIONS[action]):
        message = FORBIDDEN.format(action=Action(action).label, perm=PERMISSIONS[action])
        _finish(row, MoneyAction.Outcome.FORBIDDEN, message)
        raise ServiceError(message, code="forbidden", status=403)
    try:
        answer = call()
    except ServiceError as exc:
        _finish(row, MoneyAction.Outcome.FAILED, exc.message)
        raise
    except Exception as exc:
        _finish(row, MoneyAction.Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    _finish(row, MoneyAction.Outcome.DONE, describe(answer) if describe else _describe(answer))
    return answer


def _amount(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except ArithmeticError:
        return None


def _describe(answer) -> str:
    if answer is None:
        return "accepted"
    return str(answer)[:4000]


def _finish(row: MoneyAction, outcome: str, response: str) -> None:
    MoneyAction.objects.filter(pk=row.pk).update(outcome=outcome, response=response[:4000], finished_at=timezone.now())
