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

    # Adaptive design (off by default: the paper's fixed R raters per batch). Raters are spent
    # where labels are least certain; see studies/adaptive.py and docs in README.
    adaptive = models.BooleanField(
        default=False, help_text="Allocate raters by label uncertainty instead of a fixed number per image."
    )
    rating_budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="Adaptive: total ratings to spend (gold checks not counted)."
    )
    items_per_batch = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1)], help_text="Adaptive: images per batch (one rater each)."
    )
    min_raters = models.PositiveIntegerField(default=2, validators=[MinValueValidator(1)])
    max_raters = models.PositiveIntegerField(default=7, validators=[MinValueValidator(1)])
    stop_half_width = models.FloatField(
        default=0.75, validators=[MinValueValidator(0.0)],
        help_text="Adaptive: an image needs no more raters once its 90% interval of the mean is narrower than this, each side.",
    )
    adaptive_state = models.JSONField(default=dict, blank=True, help_text="Priors the allocation uses, refreshed per batch.")

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
        if not self.adaptive and self.sample_size and self.n_batches and self.sample_size < self.n_batches:
            raise ValidationError(
                {"sample_size": f"{self.sample_size} images cannot fill {self.n_batches} batches: need at least one per batch."}
            )
        if not isinstance(self.strata, list) or not all(isinstance(k, str) for k in self.strata):
            raise ValidationError({"strata": "A list of metadata keys, e.g. [\"gender\"]."})
        if not isinstance(self.metadata_filter, dict):
            raise ValidationError({"metadata_filter": "A JSON object of metadata key: value (or list of values)."})
        if self.adaptive:
            self.adaptive_clean()

    @property
    def raters_needed_per_image(self) -> int:
        return self.min_raters if self.adaptive else self.raters_per_batch

    def adaptive_clean(self) -> None:
        """Check an adaptive design and derive the batches it pays for: one rater per batch,
        as many batches as the budget buys, so marketplaces and the budget guard see the
        real cost."""
        if self.min_raters > self.max_raters:
            raise ValidationError({"max_raters": f"At least min raters ({self.min_raters})."})
        floor = self.min_raters * (self.sample_size or 0)
        if self.rating_budget is None:
            raise ValidationError({"rating_budget": "An adaptive study needs a rating budget (total ratings)."})
        if self.rating_budget < floor:
            raise ValidationError(
                {"rating_budget": f"{self.rating_budget} ratings cannot give {self.sample_size} images {self.min_raters} raters each: need at least {floor}."}
            )
        self.raters_per_batch = 1
        self.n_batches = -(-self.rating_budget // self.items_per_batch)


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


class AdaptiveImage(models.Model):
    """An image an adaptive study may spend ratings on, with what SQL needs to rank it."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="pool")
    image = models.ForeignKey("catalog.Image", on_delete=models.PROTECT)
    stratum = models.CharField(max_length=200, blank=True)
    q_pred = models.FloatField(null=True, blank=True, help_text="Q's predicted mean rating, when scored.")
    q_version = models.CharField(max_length=100, blank=True)
    # Running totals the next-item statement ranks by, kept by PostgreSQL triggers (migration
    # 0004) from ratings, items and assignment status, so a request reads one row per image
    # instead of aggregating every rating. Elsewhere (SQLite) they stay 0 and unused: the full
    # service recomputes from the ratings.
    n = models.PositiveIntegerField(default=0, help_text="Ratings from active or submitted batches.")
    s1 = models.FloatField(default=0.0)
    s2 = models.FloatField(default=0.0)
    taken = models.PositiveIntegerField(default=0, help_text="Slots of active or submitted batches.")
    seq = models.PositiveIntegerField(default=0, help_text="Slots ever handed out (the next slot's number - 1).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "image"], name="pool_image_once")]


class BatchItem(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey("catalog.Image", on_delete=models.PROTECT)
    position = models.PositiveIntegerField()
    gold = models.ForeignKey(GoldItem, null=True, blank=True, on_delete=models.CASCADE)
    # Adaptive studies fill a batch one item at a time, for one assignment: the owner, the
    # pool image and its sequence number (unique, so two raters never take the last slot).
    assignment = models.ForeignKey("Assignment", null=True, blank=True, on_delete=models.CASCADE, related_name="filled")
    pool = models.ForeignKey(AdaptiveImage, null=True, blank=True, on_delete=models.CASCADE, related_name="items")
    pool_seq = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "position"], condition=models.Q(assignment__isnull=True), name="item_position_unique"
            ),
            models.UniqueConstraint(
                fields=["batch", "image"], condition=models.Q(assignment__isnull=True), name="item_image_unique"
            ),
            models.UniqueConstraint(
                fields=["assignment", "position"], condition=models.Q(assignment__isnull=False), name="filled_position_unique"
            ),
            models.UniqueConstraint(
                fields=["assignment", "image"], condition=models.Q(assignment__isnull=False), name="filled_image_unique"
            ),
            models.UniqueConstraint(fields=["pool", "pool_seq"], name="pool_slot_unique"),
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
