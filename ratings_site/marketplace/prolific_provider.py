"""Prolific as a crowd provider: one Prolific study for the whole study.

Places = batches x raters per batch; each participant gets any open batch on arrival. A
submission counts only once `sync` finds it in Prolific's own list for that study and
participant (AWAITING REVIEW or APPROVED). Prolific has no sandbox: a 'sandbox' study must
point PROLIFIC_BASE_URL at a test server.
"""
from __future__ import annotations

import hashlib
import secrets
from decimal import ROUND_HALF_UP, Decimal

from prolific.bonuses import pay_bonuses, set_up_bonuses
from prolific.errors import ProlificConfigError, ProlificError
from prolific.http import DEFAULT_BASE_URL
from prolific.participants import add_to_group, blocklist_filter, create_participant_group
from prolific.studies import StudySpec, create_study, pause_study, publish_study, resume_study
from prolific.submissions import approve_submission, list_submissions, reject_submission
from ratings_site.crowd.providers.base import CrowdProvider, RaterIdentity, SyncReport
from ratings_site.core.errors import ServiceError
from ratings_site.jobs.runner import job_inline
from ratings_site.studies.models import Assignment
from ratings_site.studies.selectors import study_task_summary

from . import clients, errors
from .common import (
    MARKET_SYNC,
    PUBLISH,
    environment_problems,
    market_settings,
    production_gate_problems,
    require_same_environment,
    site_problems,
    site_url,
)
from .models import MarketplaceSettings, MarketplaceSubmission, MoneyAction, PublishedTask
from .money import money_move
from .submissions import (
    APPROVE,
    HOLD,
    REJECT,
    labels_refresh_if_complete,
    pending_submissions,
    review_decision,
    submission_confirm,
    submission_discard,
    unreviewed_confirmed,
)

PROVIDER = "prolific"
MIN_HOURLY_REWARD = Decimal("6.00")  # Prolific's floor: 6.00 GBP (8.00 USD) an hour
COUNTED_STATUSES = ("AWAITING REVIEW", "APPROVED")
IN_PROGRESS_STATUSES = ("ACTIVE", "RESERVED")
REJECTION_CATEGORY = "FAILED_CHECK"
MSG_NOT_CONFIRMED = "Only confirmed submissions can be paid, rejected or bonused; this one is {verification}."
Payment = MarketplaceSubmission.Payment


def _money(x: Decimal) -> Decimal:
    return Decimal(x).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _prolific_message(exc: ProlificError) -> str:
    if isinstance(exc, ProlificConfigError):
        return errors.PROLIFIC_TOKEN.format(detail=exc.detail)
    return errors.PROLIFIC_ERROR.format(detail=exc.detail)


def _call(fn):
    try:
        return fn()
    except ProlificError as exc:
        raise ServiceError(_prolific_message(exc), code="prolific_error", status=502) from exc


class ProlificProvider(CrowdProvider):
    name = PROVIDER
    label = "Prolific"
    verifies_on_submit = False

    @property
    def market(self) -> MarketplaceSettings | None:
        return market_settings(self.study)

    def client(self):
        return clients.prolific_client()

    # --- what the study asks of Prolific ----------------------------------------------------

    @property
    def places(self) -> int:
        return self.study.n_batches * self.study.raters_per_batch

    def estimated_minutes(self) -> int:
        return study_task_summary(self.study).expected_minutes

    def launch_cost(self, market: MarketplaceSettings) -> Decimal:
        return _money(self.places * market.reward_per_batch * (1 + market.prolific_fee_rate))

    def task(self) -> PublishedTask | None:
        return PublishedTask.objects.filter(study=self.study, provider=PROVIDER, environment=self.environment).first()

    def spec(self, market: MarketplaceSettings) -> StudySpec:
        filters = (blocklist_filter(market.prolific_block_group_id),) if market.prolific_block_group_id else ()
        return StudySpec(
            name=market.title, internal_name=f"ratings-study-{self.study.pk}-{self.environment}",
            description=market.description, page_url=f"{site_url()}/prolific/{self.study.pk}/",
            total_available_places=self.places, reward_cents=int(market.reward_per_batch * 100),
            estimated_completion_time_min=self.estimated_minutes(), completion_code=market.prolific_completion_code,
            filters=filters, project_id=market.prolific_project_id or None,
        )

    # --- launching -------------------------------------------------------------------------

    def check_launch(self) -> list[str]:
        market = self.market
        if market is None:
            return [errors.NO_SETTINGS]
        problems = environment_problems("Prolific", self.environment)
        if problems:
            return problems
        problems += site_problems("Prolific")
        minutes = self.estimated_minutes()
        hourly = _money(market.reward_per_batch * 60 / minutes)
        if hourly < MIN_HOURLY_REWARD:
            problems.append(errors.PROLIFIC_HOURLY.format(
                reward=market.reward_per_batch, minutes=minutes, hourly=hourly, minimum=MIN_HOURLY_REWARD))
        cost = self.launch_cost(market)
        task = self.task()
        already = cost if task and task.external_id else Decimal("0.00")
        if market.budget_cap is not None and cost > market.budget_cap:
            problems.append(errors.BUDGET_EXCEEDED.format(needed=cost - already, cap=market.budget_cap, spent=already))
        problems += production_gate_problems(self.study, market, cost)
        try:
            client = self.client()
        except ProlificError as exc:
            return problems + [_prolific_message(exc)]
        if self.environment == "sandbox" and client.base_url.rstrip("/") == DEFAULT_BASE_URL.rstrip("/"):
            problems.append(errors.PROLIFIC_SANDBOX.format(url=client.base_url))
        return problems

    def launch(self) -> None:
        """Create the Prolific study (its id stored at once), then publish it; safe to repeat."""
        market = self.market
        if market is None:
            raise ServiceError(errors.NO_SETTINGS, code="no_settings")
        gate = production_gate_problems(self.study, market, self.launch_cost(market))
        if gate:
            raise ServiceError(" ".join(gate), code="not_confirmed")
        if not market.prolific_completion_code:
            market.prolific_completion_code = secrets.token_hex(4).upper()
            market.save(update_fields=["prolific_completion_code"])
        token = hashlib.sha256(f"prolific|{self.environment}|{self.study.pk}".encode()).hexdigest()
        task, _ = PublishedTask.objects.get_or_create(
            provider=PROVIDER, environment=self.environment, request_token=token,
            defaults={"study": self.study, "cost": self.launch_cost(market)},
        )
        def publish() -> str:
            client = _call(self.client)
            if not task.external_id:
                created = _call(lambda: create_study(client, self.spec(market)))
                PublishedTask.objects.filter(pk=task.pk).update(external_id=created.id)
                task.external_id = created.id
            if task.status == PublishedTask.Status.PENDING:
                _call(lambda: publish_study(client, task.external_id))
                PublishedTask.objects.filter(pk=task.pk).update(status=PublishedTask.Status.PUBLISHED)
            return f"Prolific study {task.external_id} published"

        with job_inline(kind=PUBLISH, study=self.study, message="published on Prolific") as result:
            committed = task.cost if task.status == PublishedTask.Status.PENDING else Decimal("0.00")
            money_move(action=MoneyAction.Action.LAUNCH, study=self.study, via="publish", amount=committed, call=publish)
            result.update(prolific_study=task.external_id, places=self.places)

    def pause(self) -> None:
        task = self.task()
        if task and task.external_id and task.status == PublishedTask.Status.PUBLISHED:
            _call(lambda: pause_study(self.client(), task.external_id))
            PublishedTask.objects.filter(pk=task.pk).update(status=PublishedTask.Status.PAUSED)

    def resume(self) -> None:
        task = self.task()
        if task and task.external_id and task.status == PublishedTask.Status.PAUSED:
            _call(lambda: resume_study(self.client(), task.external_id))
            PublishedTask.objects.filter(pk=task.pk).update(status=PublishedTask.Status.PUBLISHED)

    # --- participants ----------------------------------------------------------------------

    def identify(self, request) -> RaterIdentity | None:
        pid = request.GET.get("PROLIFIC_PID", "")
        if not pid:
            return None
        return RaterIdentity(external_id=pid, external_assignment_id=request.GET.get("SESSION_ID", ""))

    def on_submitted(self, assignment: Assignment) -> None:
        """The code shown at the end is the one Prolific expects for this study."""
        market = self.market
        if market and market.prolific_completion_code:
            assignment.completion_code = market.prolific_completion_code
            Assignment.objects.filter(pk=assignment.pk).update(completion_code=market.prolific_completion_code)

    # --- confirming and paying ---------------------------------------------------------------

    def sync(self) -> SyncReport:
        report = SyncReport()
        market, task = self.market, self.task()
        if market is None or task is None or not task.external_id:
            report.messages.append(errors.NO_SETTINGS if market is None else "Not published on Prolific yet.")
            return report
        with job_inline(kind=MARKET_SYNC, study=self.study, message="synced") as result:
            try:
                client = self.client()
                remote = {s.id: s for s in list_submissions(client, task.external_id)}
                self._verify_pending(remote, report)
                for sub in unreviewed_confirmed(self.study, PROVIDER):
                    self._review(client, market, sub, report)
            except ProlificError as exc:
                report.messages.append(_prolific_message(exc))
            result.update(confirmed=report.confirmed, rejected=report.rejected, freed=report.freed, held=report.held,
                          messages=report.messages[:20],
                          _quiet=not (report.confirmed or report.rejected or report.held or report.messages))
        labels_refresh_if_complete(self.study, report.confirmed)
        return report

    def _verify_pending(self, remote: dict, report: SyncReport) -> None:
        for sub in pending_submissions(self.study, PROVIDER):
            found = remote.get(sub.external_assignment_id)
            if found is None:
                reason, status = "unknown_submission", None
            elif found.participant_id != sub.worker_id:
                reason, status = "participant_mismatch", found.status
            elif found.status in COUNTED_STATUSES:
                submission_confirm(sub, marketplace_status=found.status)
                report.confirmed += 1
                continue
            elif found.status in IN_PROGRESS_STATUSES:
                continue  # not back on Prolific yet
            else:
                reason, status = "not_submitted", found.status
            report.freed += submission_discard(sub, reason=reason, marketplace_status=status)
            report.rejected += 1

    def _review(self, client, market, sub: MarketplaceSubmission, report: SyncReport) -> None:
        decision = review_decision(sub, market)
        try:
            if sub.marketplace_status == "APPROVED":
                sub.payment = Payment.APPROVED
            elif decision == APPROVE:
                money_move(action=MoneyAction.Action.APPROVE, study=self.study, submission=sub, via="marketplace sync",
                           amount=market.reward_per_batch, detail="gold checks passed",
                           call=lambda: approve_submission(client, sub.external_assignment_id))
                sub.payment = Payment.APPROVED
            elif decision == REJECT:
                money_move(action=MoneyAction.Action.REJECT, study=self.study, submission=sub, via="marketplace sync",
                           detail=market.rejection_feedback,
                           call=lambda: reject_submission(client, sub.external_assignment_id, category=REJECTION_CATEGORY,
                                                          message=market.rejection_feedback))
                sub.payment = Payment.REJECTED
            elif decision == HOLD:
                sub.payment = Payment.HELD
                report.held += 1
            sub.message = ""
        except ProlificError as exc:
            sub.message = _prolific_message(exc)[:500]
            report.messages.append(sub.message)
        sub.save(update_fields=["payment", "gold_checks", "gold_passed", "message"])

    def _check(self, sub: MarketplaceSubmission) -> None:
        require_same_environment(self.study, sub.environment)
        if sub.verification != MarketplaceSubmission.Verification.CONFIRMED:
            raise ServiceError(MSG_NOT_CONFIRMED.format(verification=sub.verification), code="not_confirmed", status=409)

    def approve(self, sub: MarketplaceSubmission) -> None:
        self._check(sub)
        _call(lambda: approve_submission(self.client(), sub.external_assignment_id))
        MarketplaceSubmission.objects.filter(pk=sub.pk).update(payment=Payment.APPROVED, message="")

    def reject(self, sub: MarketplaceSubmission, feedback: str) -> None:
        self._check(sub)
        _call(lambda: reject_submission(self.client(), sub.external_assignment_id, category=REJECTION_CATEGORY, message=feedback))
        MarketplaceSubmission.objects.filter(pk=sub.pk).update(payment=Payment.REJECTED, message="")

    def bonus(self, sub: MarketplaceSubmission, amount, reason: str = "") -> Decimal:
        """Set up, then pay; the set-up id is stored first so a retry pays the same batch."""
        self._check(sub)
        if sub.bonus_paid > 0:
            raise ServiceError(f"A bonus was already sent for this submission ({sub.bonus_reference}).", code="bonus_sent", status=409)
        client = _call(self.client)
        setup_id = sub.bonus_reference
        if not setup_id:
            setup = _call(lambda: set_up_bonuses(client, sub.task.external_id, {sub.worker_id: amount}))
            setup_id = setup.id
            MarketplaceSubmission.objects.filter(pk=sub.pk).update(bonus_reference=setup_id)
        _call(lambda: pay_bonuses(client, setup_id))
        value = _money(Decimal(str(amount)))
        MarketplaceSubmission.objects.filter(pk=sub.pk).update(bonus_paid=value)
        return value

    def block(self, sub: MarketplaceSubmission, reason: str = "") -> None:
        """Keep the participant out of this researcher's later studies (a blocklist group)."""
        require_same_environment(self.study, sub.environment)
        market = self.market
        client = _call(self.client)
        if not market.prolific_block_group_id:
            group = _call(lambda: create_participant_group(
                client, f"blocked by ratings study {self.study.pk}",
                workspace_id=market.prolific_workspace_id or None, project_id=market.prolific_project_id or None))
            market.prolific_block_group_id = group.id
            market.save(update_fields=["prolific_block_group_id"])
        _call(lambda: add_to_group(client, market.prolific_block_group_id, [sub.worker_id]))
        MarketplaceSubmission.objects.filter(pk=sub.pk).update(blocked=True)
