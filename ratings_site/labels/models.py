from django.db import models


class Label(models.Model):
    """An image's naturalness label in one study: the mean and sample standard deviation
    (ddof=1) of its valid ratings."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="labels")
    image = models.ForeignKey("catalog.Image", on_delete=models.CASCADE, related_name="labels")
    mean = models.FloatField(null=True)
    std = models.FloatField(null=True, help_text="Sample standard deviation (ddof=1); empty when n < 2.")
    n = models.PositiveIntegerField()
    low_n = models.BooleanField(help_text="Fewer valid ratings than the study's raters per batch.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["study", "image"]
        permissions = [("compute_labels", "Can compute a study's labels")]
        constraints = [models.UniqueConstraint(fields=["study", "image"], name="label_unique_per_study")]


# A rater whose mean absolute deviation from the other raters of the same images is at least
# this many points (on 0-10) is flagged for a researcher to look at; gold failures are flagged too.
FLAG_MAD = 2.5


class RaterStats(models.Model):
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="rater_stats")
    rater = models.ForeignKey("crowd.Rater", on_delete=models.CASCADE)
    n_ratings = models.PositiveIntegerField()
    gold_checks = models.PositiveIntegerField(default=0)
    gold_passed = models.PositiveIntegerField(default=0)
    excluded = models.BooleanField(default=False, help_text="Failed gold checks: ratings left out of labels.")
    mad_from_others = models.FloatField(null=True, help_text="Mean |score - mean of the other raters| on shared images.")
    flagged = models.BooleanField(default=False, help_text=f"Failed gold checks, or deviates from the others by {FLAG_MAD} points or more on average.")
    excluded_by_hand = models.BooleanField(default=False, help_text="A researcher excluded this rater from the labels (see exclusions).")

    class Meta:
        verbose_name_plural = "rater stats"
        constraints = [models.UniqueConstraint(fields=["study", "rater"], name="rater_stats_unique")]


class RaterExclusion(models.Model):
    """The audit trail of hand exclusions: each row is one decision; the newest per study and
    rater is in force. Undoing is a new row with excluded=False, never a deletion."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="rater_exclusions")
    rater = models.ForeignKey("crowd.Rater", on_delete=models.CASCADE, related_name="exclusions")
    excluded = models.BooleanField(help_text="True: left out of labels from now on; False: counted again.")
    reason = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["study", "rater", "-decided_at"])]

    def __str__(self):
        return f"{'excluded' if self.excluded else 'included'} {self.rater} in {self.study}"
