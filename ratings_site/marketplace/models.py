"""What the platform knows about a study on a paid marketplace (MTurk, Prolific).

Every record carries the environment (sandbox or production) it belongs to, and the
database refuses any other value: sandbox and production HITs, workers and payments
are never mixed. Credentials never live here (AWS chain / PROLIFIC_TOKEN from the env).
"""
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

ENVIRONMENTS = (("sandbox", "sandbox"), ("production", "production"))
_ENV_OK = models.Q(environment__in=["sandbox", "production"])


class OnGoldFailure(models.TextChoices):
    REJECT = "reject", "reject with feedback (not paid)"
    HOLD = "hold", "hold for a researcher to decide"
    APPROVE = "approve", "approve anyway (ratings still excluded from labels)"


class MarketplaceSettings(models.Model):
    """How a study is offered on its marketplace: pay, limits, and the production gate."""

    study = models.OneToOneField("studies.Study", on_delete=models.CASCADE, related_name="marketplace")
    title = models.CharField(max_length=128, default="Rate how natural face photos look")
    description = models.TextField(
        default="Look at face images one at a time and rate how natural each looks, from 0 to 10."
    )
    keywords = models.CharField(max_length=500, default="image, rating, faces", help_text="Comma-separated.")
    reward_per_batch = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("1.50"),
        help_text="Paid per rater per batch (dollars on MTurk, the workspace currency on Prolific).",
    )
    budget_cap = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="Most this study may commit, fees included. Empty means no cap.",
    )
    bonus_amount = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("0.00"), help_text="Default bonus for the 'send bonus' action."
    )
    bonus_reason = models.CharField(max_length=500, default="Thank you for careful ratings.")
    qualifications = models.JSONField(
        default=dict, blank=True,
        help_text='MTurk: {"approval_rate": 98, "approved_hits": 1000, "locales": ["US", "CA"], "masters": false}.',
    )
    lifetime_hours = models.PositiveIntegerField(default=7 * 24, validators=[MinValueValidator(1)])
    auto_approval_hours = models.PositiveIntegerField(default=72)
    duration_margin_minutes = models.PositiveIntegerField(
        default=15, help_text="Added to batch size x viewing seconds for the time a rater may take."
    )
    on_gold_failure = models.CharField(max_length=10, choices=OnGoldFailure.choices, default=OnGoldFailure.HOLD)
    rejection_feedback = models.TextField(
        default=(
            "Your answers on the check images, whose expected range follows from the instructions, were outside "
            "that range too often, so this batch could not be accepted. Thank you for your time."
        ),
        help_text="Shown to the rater on rejection (Prolific needs at least 100 characters).",
    )
    unverified_grace_minutes = models.PositiveIntegerField(
        default=60, help_text="A submission MTurk still does not know after this long never counts and frees its slot."
    )
    # Prolific only.
    prolific_completion_code = models.CharField(max_length=32, blank=True)
    prolific_project_id = models.CharField(max_length=64, blank=True)
    prolific_workspace_id = models.CharField(max_length=64, blank=True)
    prolific_block_group_id = models.CharField(max_length=64, blank=True, help_text="Participant group kept out.")
    prolific_fee_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.3333"), help_text="Prolific's service fee on rewards."
    )
    # The production gate: a person with marketplace.launch_production confirms the exact cost.
    production_confirmed_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    production_confirmed_at = models.DateTimeField(null=True, blank=True)
    production_confirmed_cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = "marketplace settings"
        verbose_name_plural = "marketplace settings"
        permissions = [("launch_production", "Can confirm a paid (production) marketplace launch")]
        constraints = [
            models.CheckConstraint(condition=models.Q(reward_per_batch__gte=0), name="mkt_reward_not_negative"),
            models.CheckConstraint(
                condition=models.Q(budget_cap__isnull=True) | models.Q(budget_cap__gte=0), name="mkt_budget_not_negative"
            ),
        ]

    def __str__(self):
        return f"marketplace settings of {self.study}"

    @property
    def keyword_list(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.keywords.split(",") if k.strip())


class PublishedTask(models.Model):
    """A HIT (one per batch) or a Prolific study (one per study, batch empty)."""

    class Status(models.TextChoices):
        PENDING = "pending", "to publish"
        PUBLISHED = "published"
        PAUSED = "paused"
        EXPIRED = "expired"
        DELETED = "deleted"
        MISSING = "missing", "no longer exists on the marketplace"

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="published_tasks")
    batch = models.ForeignKey("studies.Batch", null=True, blank=True, on_delete=models.CASCADE, related_name="published")
    provider = models.CharField(max_length=30)
    environment = models.CharField(max_length=20, choices=ENVIRONMENTS)
    external_id = models.CharField(max_length=200, blank=True, help_text="HIT id or Prolific study id.")
    request_token = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["study", "batch__index"]
        constraints = [
            models.CheckConstraint(condition=_ENV_OK, name="task_env_sandbox_or_production"),
            models.UniqueConstraint(fields=["provider", "environment", "request_token"], name="task_token_unique"),
            models.UniqueConstraint(
                fields=["provider", "environment", "external_id"], condition=~models.Q(external_id=""),
                name="task_external_id_unique",
            ),
        ]

    def __str__(self):
        return f"{self.provider}/{self.environment} {self.external_id or '(unpublished)'}"


class MarketplaceSubmission(models.Model):
    """One worker's claimed work, keyed as the marketplace knows it.

    MTurk reuses an assignment id after a worker returns a HIT, so the key is
    (environment, external assignment id, worker id); a replayed visit maps to the same row.
    """

    class Verification(models.TextChoices):
        PENDING = "pending"
        CONFIRMED = "confirmed"
        REJECTED = "rejected", "rejected (never counts)"

    class Payment(models.TextChoices):
        UNREVIEWED = "unreviewed"
        APPROVED = "approved"
        REJECTED = "rejected"
        HELD = "held", "held for a researcher"

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="marketplace_submissions")
    task = models.ForeignKey(PublishedTask, on_delete=models.PROTECT, related_name="submissions")
    assignment = models.OneToOneField("studies.Assignment", on_delete=models.CASCADE, related_name="marketplace")
    provider = models.CharField(max_length=30)
    environment = models.CharField(max_length=20, choices=ENVIRONMENTS)
    external_assignment_id = models.CharField(max_length=200, help_text="MTurk assignmentId or Prolific SESSION_ID.")
    worker_id = models.CharField(max_length=200, help_text="MTurk workerId or Prolific PROLIFIC_PID.")
    verification = models.CharField(max_length=10, choices=Verification.choices, default=Verification.PENDING)
    verification_reason = models.CharField(max_length=40, blank=True)
    marketplace_status = models.CharField(max_length=40, blank=True, help_text="As the marketplace last reported it.")
    payment = models.CharField(max_length=12, choices=Payment.choices, default=Payment.UNREVIEWED)
    bonus_paid = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    bonus_reference = models.CharField(max_length=100, blank=True, help_text="Bonus token or Prolific set-up id.")
    blocked = models.BooleanField(default=False)
    gold_checks = models.PositiveIntegerField(default=0)
    gold_passed = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=_ENV_OK, name="submission_env_sandbox_or_production"),
            models.UniqueConstraint(
                fields=["provider", "environment", "external_assignment_id", "worker_id"], name="submission_key_unique"
            ),
        ]
        indexes = [models.Index(fields=["study", "verification"])]

    def __str__(self):
        return f"{self.provider}/{self.environment} {self.external_assignment_id} by {self.worker_id}"


class MoneyAction(models.Model):
    """One attempt to pay, reject, block or launch on a marketplace: who asked, what, how
    much, and what the marketplace answered. Written before the call (pending) and
    completed after it, so even a process killed mid-call leaves its trace."""

    class Action(models.TextChoices):
        APPROVE = "approve", "approve (pay the reward)"
        REJECT = "reject"
        BONUS = "bonus", "pay a bonus"
        BLOCK = "block", "block the worker"
        LAUNCH = "launch", "publish (commit the reward budget)"

    class Outcome(models.TextChoices):
        PENDING = "pending", "pending (no answer recorded)"
        DONE = "done"
        FAILED = "failed", "failed (marketplace or rule refused)"
        FORBIDDEN = "forbidden", "forbidden (no permission)"

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="money_actions")
    submission = models.ForeignKey(MarketplaceSubmission, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="money_actions")
    provider = models.CharField(max_length=30)
    environment = models.CharField(max_length=20, choices=ENVIRONMENTS)
    action = models.CharField(max_length=10, choices=Action.choices)
    amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True,
                                 help_text="Money this action moves or commits, when known.")
    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    via = models.CharField(max_length=30, help_text="admin, api, or the task that acted on the platform's own rules.")
    detail = models.CharField(max_length=500, blank=True, help_text="Reason or feedback given.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    response = models.TextField(blank=True, help_text="The marketplace's answer, or why it was refused.")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("approve_submission", "Can approve (pay) marketplace submissions"),
            ("reject_submission", "Can reject marketplace submissions"),
            ("pay_bonus", "Can pay marketplace bonuses"),
            ("block_worker", "Can block marketplace workers"),
        ]
        constraints = [models.CheckConstraint(condition=_ENV_OK, name="money_env_sandbox_or_production")]

    def __str__(self):
        who = self.actor or self.via
        return f"{self.get_action_display()} by {who} ({self.outcome})"
