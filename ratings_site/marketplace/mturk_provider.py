"""Amazon Mechanical Turk as a crowd provider: one ExternalQuestion HIT per batch.

Submissions do not count when made (`verifies_on_submit = False`): the URL parameters a
Turker arrives with are claims. `sync` confirms each submission from MTurk's own records
(GetAssignment), then approves or rejects it by the gold checks.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from mturk.errors import HITNotFoundError, InvalidRequestError, MTurkError
from mturk.client import Environment
from mturk.costs import MIN_REWARD, check_reward
from mturk.hits import expire_hit
from mturk.publish import publish_batches
from mturk.records import HitRef
from mturk.workers import get_account_balance
from ratings_site.crowd.providers.base import CrowdProvider, RaterIdentity, SyncReport
from ratings_site.core.errors import ServiceError
from ratings_site.jobs.runner import job_inline
from ratings_site.studies.models import Batch

from . import clients, errors, mturk_review
from .errors import mturk_message
from .common import (
    PUBLISH,
    environment_problems,
    market_settings,
    production_gate_problems,
    site_problems,
)
from .models import MoneyAction, PublishedTask
from .money import money_move
from .mturk_specs import PROVIDER, committed_cost, hit_specs, launch_costs, published_tasks


class MTurkProvider(CrowdProvider):
    name = PROVIDER
    label = "Amazon Mechanical Turk (closed 2026-09-30)"
    verifies_on_submit = False

    # --- helpers ---------------------------------------------------------------------

    @property
    def market(self):
        return market_settings(self.study)

    def client(self):
        return clients.mturk_client(self.environment)

    def client_or_refuse(self):
        """The client, or a ServiceError with a clear message (missing credentials...)."""
        try:
            return self.client()
        except MTurkError as exc:
            raise ServiceError(mturk_message(exc), code="mturk_error", status=502) from exc

    # --- launching -------------------------------------------------------------------

    def check_launch(self) -> list[str]:
        market = self.market
        if market is None:
            return [errors.NO_SETTINGS]
        problems = environment_problems("MTurk", self.environment)
        if problems:
            return problems
        problems += site_problems("MTurk")
        try:
            check_reward(market.reward_per_batch)
        except InvalidRequestError:
            return problems + [errors.REWARD_TOO_LOW.format(reward=f"${market.reward_per_batch}", provider="MTurk", minimum=f"${MIN_REWARD}")]
        try:
            planned = hit_specs(self.study, market)
            if not problems:
                for p in planned:
                    p.spec.validate(Environment.parse(self.environment))
        except (InvalidRequestError, ValueError) as exc:
            return problems + [errors.MTURK_ERROR.format(detail=getattr(exc, "message", str(exc)))]
        full, pending = launch_costs(self.study, market)
        spent = committed_cost(self.study)
        if market.budget_cap is not None and spent + pending.total > market.budget_cap:
            problems.append(errors.BUDGET_EXCEEDED.format(needed=pending.total, cap=market.budget_cap, spent=spent))
        problems += production_gate_problems(self.study, market, full.total)
        try:
            client = self.client()
            if pending.total > 0:
                balance = get_account_balance(client).available
                if balance < pending.total:
                    problems.append(errors.BALANCE_TOO_LOW.format(available=balance, needed=pending.total))
        except MTurkError as exc:
            problems.append(mturk_message(exc))
        return problems

    def launch(self) -> None:
        """Publish every batch not yet on MTurk; each HIT id is stored the moment it exists."""
        market = self.market
        if market is None:
            raise ServiceError(errors.NO_SETTINGS, code="no_settings")
        full, pending = launch_costs(self.study, market)
        gate = production_gate_problems(self.study, market, full.total)
        if gate:
            raise ServiceError(" ".join(gate), code="not_confirmed")
        with job_inline(kind=PUBLISH, study=self.study, message="published") as result:
            try:
                report = money_move(action=MoneyAction.Action.LAUNCH, study=self.study, via="publish",
                                    amount=pending.total, call=lambda: self._publish(market))
            except MTurkError as exc:
                raise ServiceError(mturk_message(exc), code="publish_failed") from exc
            result.update(
                created=report.count("created"), recovered=report.count("recovered"), skipped=report.count("skipped"),
                cost=str(report.launch_cost.total), api_calls=report.api_calls,
                _message=f"{len(report.results)} HITs on MTurk ({report.count('created')} new)",
            )

    def _publish(self, market):
        environment = self.environment
        planned = hit_specs(self.study, market)
        batches = {b.index: b for b in Batch.objects.filter(study=self.study)}
        tasks = {}
        for p in planned:
            token = p.spec.token(environment)
            task, _ = PublishedTask.objects.get_or_create(
                provider=PROVIDER, environment=environment, request_token=token,
                defaults={"study": self.study, "batch": batches.get(p.batch_index), "cost": p.spec.cost().total},
            )
            tasks[token] = task
        already = {t.request_token: t.external_id for t in tasks.values() if t.external_id}

        def on_published(token: str, hit_id: str) -> None:
            task = tasks[token]
            with transaction.atomic():
                PublishedTask.objects.filter(pk=task.pk).update(
                    external_id=hit_id, status=PublishedTask.Status.PUBLISHED, message="", updated_at=timezone.now()
                )
                if task.batch_id:
                    Batch.objects.filter(pk=task.batch_id).update(external_id=hit_id)

        return publish_batches(
            self.client(), [p.spec for p in planned], already,
            budget_cap=market.budget_cap, already_committed=committed_cost(self.study), on_published=on_published,
        )

    # --- pausing ---------------------------------------------------------------------

    def pause(self) -> None:
        """Expire the HITs: no new worker can accept; workers already at work can submit."""
        self._for_each_live_hit(lambda client, ref: expire_hit(client, ref), PublishedTask.Status.PAUSED)

    def resume(self) -> None:
        market = self.market
        lifetime = timedelta(hours=market.lifetime_hours if market else 24 * 7)

        def extend(client, ref):
            client.require_environment(ref.environment, "UpdateExpirationForHIT")
            client.call("UpdateExpirationForHIT", HITId=ref.hit_id, ExpireAt=timezone.now() + lifetime)

        self._for_each_live_hit(extend, PublishedTask.Status.PUBLISHED, statuses=[PublishedTask.Status.PAUSED])

    def _for_each_live_hit(self, action, new_status, statuses=(PublishedTask.Status.PUBLISHED,)) -> list[str]:
        messages = []
        tasks = list(published_tasks(self.study).filter(status__in=statuses).exclude(external_id=""))
        if not tasks:
            return messages
        client = self.client_or_refuse()
        for task in tasks:
            try:
                action(client, HitRef(task.external_id, client.environment))
            except HITNotFoundError:
                message = errors.HIT_GONE.format(hit_id=task.external_id, environment=task.environment)
                PublishedTask.objects.filter(pk=task.pk).update(status=PublishedTask.Status.MISSING, message=message)
                messages.append(message)
            except MTurkError as exc:  # recorded on the HIT; the other HITs are still handled
                message = mturk_message(exc)
                PublishedTask.objects.filter(pk=task.pk).update(message=message[:500])
                messages.append(message)
            else:
                PublishedTask.objects.filter(pk=task.pk).update(status=new_status, message="")
        return messages

    def close(self) -> list[str]:
        """Expire and delete every HIT once reviewed (MTurk refuses unreviewed ones)."""
        return mturk_review.close_hits(self)

    # --- workers -----------------------------------------------------------------------

    def identify(self, request) -> RaterIdentity | None:
        worker = request.GET.get("workerId")
        assignment_id = request.GET.get("assignmentId", "")
        if not assignment_id:
            return None
        from mturk.questions import ASSIGNMENT_ID_NOT_AVAILABLE

        return RaterIdentity(
            external_id=worker or "",
            external_assignment_id=assignment_id,
            submit_to=request.GET.get("turkSubmitTo", ""),
            preview=assignment_id == ASSIGNMENT_ID_NOT_AVAILABLE,
        )

    def sync(self) -> SyncReport:
        return mturk_review.sync_submissions(self)

    def on_submitted(self, assignment) -> None:
        return None  # counted only once sync confirms it from MTurk's records

    # --- a researcher's decisions (see mturk_review) -------------------------------------

    def approve(self, sub) -> None:
        mturk_review.approve(self, sub)

    def reject(self, sub, feedback: str) -> None:
        mturk_review.reject(self, sub, feedback)

    def bonus(self, sub, amount, reason: str):
        return mturk_review.bonus(self, sub, amount, reason)

    def block(self, sub, reason: str) -> None:
        mturk_review.block(self, sub, reason)
