import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

SCORE_MIN, SCORE_MAX = 0, 10


def completion_code() -> str:
    return secrets.token_hex(4).upper()


def assignment_token() -> str:
    return secrets.token_urlsafe(24)


DEFAULT_CONSENT = (
    "This is a research study on how people judge face images. Taking part is voluntary and you may stop "
    "at any time by closing the page. We record your ratings, how long each took and an anonymous rater id; "
    "no name or contact details. The anonymised ratings may be published as research data."
)


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        RUNNING = "running"
        PAUSED = "paused"
        COMPLETE = "complete"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    instructions = models.TextField(
        blank=True,
        default="Rate how natural each face looks, from 0 (clearly unnatural, synthetic or broken) "
        "to 10 (hyper-realistic, indistinguishable from a photograph).",
    )
    consent_statement = models.TextField(
        default=DEFAULT_CONSENT, help_text="Raters must accept this before they see the first image."
    )
    pay_description = models.CharField(
        max_length=200, blank=True, help_text="What a rater is paid, as shown to them, e.g. \"£1.20 for the batch\". Empty: unpaid."
    )
    expected_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Shown to raters. Empty: estimated from the batch size and the viewing window.",
    )
    example_natural = models.ForeignKey(
        "catalog.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Shown in the instructions as an example of a natural face.",
    )
    example_unnatural = models.ForeignKey(
        "catalog.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Shown in the instructions as an example of an unnatural face.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)

    class Provider(models.TextChoices):
        SELF_HOSTED = "self_hosted", "Self-hosted crowd (invitation links)"
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "Amazon Mechanical Turk (closed 2026-09-30)"

    class Environment(models.TextChoices):
        LIVE = "live", "live (self-hosted)"
        SANDBOX = "sandbox", "sandbox"
        PRODUCTION = "production", "production"

    provider = models.CharField(max_length=30, choices=Provider.choices, default=Provider.SELF_HOSTED)
    provider_environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.LIVE)
    provider_settings = models.JSONField(default=dict, blank=True)

    # Sampling rule.
    sources = models.ManyToManyField("catalog.Source", blank=True, help_text="Empty means every source.")
    metadata_filter = models.JSONField(
        default=dict, blank=True, help_text='Image metadata that must match, e.g. {"frontal": "yes"} or {"gender": ["f", "m"]}.'
    )
    strata = models.JSONField(
        default=list, blank=True, help_text='Metadata keys to balance across, e.g. ["svm_class", "gender"].'
    )
    sample_size = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    seed = models.IntegerField(default=0)

    n_batches = models.PositiveIntegerField(default=72, validators=[MinValueValidator(1)])
    raters_per_batch = models.PositiveIntegerField(default=3, validators=[MinValueValidator(1)])
    viewing_seconds = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    answer_grace_seconds = models.PositiveIntegerField(
        default=60, help_text="After the image is hidden, the rater still has this long to answer."
    )
    slot_timeout_minutes = models.PositiveIntegerField(
        default=30, help_text="A rater idle this long loses the batch slot to someone else."
    )
    gold_min_pass_rate = models.FloatField(
        default=0.75,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Raters passing fewer gold checks than this share are excluded from labels.",
    )

    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    agreement = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"
        permissions = [("launch_study", "Can launch and pause studies"), ("export_labels", "Can export labels")]

    def __str__(self):
        return self.name

    def clean(self):
        if self.sample_size and self.n_batches and self.sample_size < self.n_batches:
            raise ValidationError(
                {"sample_size": f"{self.sample_size} images cannot fill {self.n_batches} batches: need at least one per batch."}
            )
        if not isinstance(self.strata, list) or not all(isinstance(k, str) for k in self.strata):
            raise ValidationError({"strata": "A list of metadata keys, e.g. [\"gender\"]."})
        if not isinstance(self.metadata_filter, dict):
            raise ValidationError({"metadata_filter": "A JSON object of metadata key: value (or list of values)."})


class GoldItem(models.Model):
    """An image with a known range, mixed into every batch to check raters."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="gold_items")
    image = models.ForeignKey("catalog.Image", on_delete=models.PROTECT)
    min_score = models.PositiveSmallIntegerField(default=SCORE_MIN, validators=[MaxValueValidator(SCORE_MAX)])
    max_score = models.PositiveSmallIntegerField(default=SCORE_MAX, validators=[MaxValueValidator(SCORE_MAX)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "image"], name="gold_unique_per_study"),
            models.CheckConstraint(condition=models.Q(min_score__lte=models.F("max_score")), name="gold_range_ordered"),
        ]

    def __str__(self):
        return f"gold {self.image_id} in [{self.min_score}, {self.max_score}]"


class Batch(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="batches")
    index = models.PositiveIntegerField()
    external_id = models.CharField(max_length=200, blank=True, help_text="HIT id or marketplace study id.")

    class Meta:
        ordering = ["study", "index"]
        verbose_name_plural = "batches"
        constraints = [models.UniqueConstraint(fields=["study", "index"], name="batch_index_unique")]

    def __str__(self):
        return f"{self.study} / batch {self.number}"

    @property
    def number(self) -> int:
        """What people see: batches are numbered from 1 in the admin, the API and exports."""
        return self.index + 1


class BatchItem(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey("catalog.Image", on_delete=models.PROTECT)
    position = models.PositiveIntegerField()
    gold = models.ForeignKey(GoldItem, null=True, blank=True, on_delete=models.CASCADE)

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="item_position_unique"),
            models.UniqueConstraint(fields=["batch", "image"], name="item_image_unique"),
        ]


class Assignment(models.Model):
    """One rater's slot on one batch."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUBMITTED = "submitted"
        ABANDONED = "abandoned"
        RETURNED = "returned"
        REJECTED = "rejected"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey("crowd.Rater", on_delete=models.PROTECT, related_name="assignments")
    token = models.CharField(max_length=64, unique=True, default=assignment_token)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    # Only verified assignments count toward labels: the self-hosted crowd verifies on
    # submit; marketplaces verify from their own records in a sync.
    verified = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    completion_code = models.CharField(max_length=16, blank=True)
    external_assignment_id = models.CharField(max_length=200, blank=True)
    external_submit_to = models.URLField(blank=True)
    consented_at = models.DateTimeField(null=True, blank=True, help_text="When the rater accepted the consent statement.")

    class Meta:
        ordering = ["batch", "started_at"]
        constraints = [
            # No rater gets the same batch twice, whatever became of the first time.
            models.UniqueConstraint(fields=["batch", "rater"], name="assignment_rater_once_per_batch"),
        ]
        indexes = [models.Index(fields=["batch", "status"])]

    def __str__(self):
        return f"{self.rater} on {self.batch}"


class ItemView(models.Model):
    """When the server first showed an item to an assignment: the window runs from here."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="views")
    item = models.ForeignKey(BatchItem, on_delete=models.CASCADE)
    served_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "item"], name="view_once")]


class Rating(models.Model):
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="ratings")
    item = models.ForeignKey(BatchItem, on_delete=models.CASCADE, related_name="ratings")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(SCORE_MIN), MaxValueValidator(SCORE_MAX)])
    created_at = models.DateTimeField(auto_now_add=True)
    response_ms = models.PositiveIntegerField(help_text="From the image being served to the answer.")

    class Meta:
        ordering = ["assignment", "item__position"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "item"], name="one_rating_per_item_per_assignment"),
            models.CheckConstraint(condition=models.Q(score__lte=SCORE_MAX), name="score_in_range"),
        ]
