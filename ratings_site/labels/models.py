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


class RaterStats(models.Model):
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="rater_stats")
    rater = models.ForeignKey("crowd.Rater", on_delete=models.CASCADE)
    n_ratings = models.PositiveIntegerField()
    gold_checks = models.PositiveIntegerField(default=0)
    gold_passed = models.PositiveIntegerField(default=0)
    excluded = models.BooleanField(default=False, help_text="Failed gold checks: ratings left out of labels.")
    mad_from_others = models.FloatField(null=True, help_text="Mean |score - mean of the other raters| on shared images.")

    class Meta:
        verbose_name_plural = "rater stats"
        constraints = [models.UniqueConstraint(fields=["study", "rater"], name="rater_stats_unique")]
