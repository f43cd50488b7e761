from django.db import models


class Job(models.Model):
    """Long work a person can watch: labels, exports, preprocessing, marketplace, training.

    `ratings_site.jobs.runner` runs every kind: a Celery task takes the job's id, claims the
    row, reports progress and heartbeats here and finishes it; the admin shows these rows
    live, and the sweep (`ratings_site.jobs.sweep`) re-sends jobs whose message or worker
    was lost.
    """

    class Kind(models.TextChoices):
        LABELS = "labels", "compute labels"
        EXPORT = "export", "export labels"
        FACES = "faces", "analyse faces"
        SVM = "svm", "train stage I SVM"
        SVM_APPLY = "svm_apply", "apply stage I SVM"
        STAGE2 = "stage2", "build stage II study"
        MARKET_SYNC = "market_sync", "sync marketplace submissions"
        PUBLISH = "publish", "publish on a marketplace"
        TRAIN_Q = "train_q", "train quality model Q"
        SCORE_Q = "score_q", "score images with Q"
        TRAIN_LEGAN = "train_legan", "train LEGAN"
        EVALUATE_LEGAN = "evaluate_legan", "evaluate LEGAN"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    study = models.ForeignKey("studies.Study", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    params = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    artifact = models.FileField(upload_to="jobs/", blank=True)
    error = models.TextField(blank=True)
    log_tail = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from the worker running it.")
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker started (or resumed) it.")
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was asked to run; empty while it waits for another job.")
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task message last reached the broker; empty if the broker was unreachable.")
    sends = models.PositiveIntegerField(default=0, help_text="Task messages handed to the broker for it.")
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def percent(self) -> float:
        return 100.0 * self.progress_done / self.progress_total if self.progress_total else 0.0
