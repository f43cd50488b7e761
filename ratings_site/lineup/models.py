"""A lineup study: raters pick, from a row of the models' outputs, the one image that best
shows a target expression and lighting while keeping the person (the paper's human preference).

It is a `studies.Study` (batches, assignments, providers, verification all reused) with
lineups in place of batch items; everything lineup-specific hangs off `LineupStudy`.
"""
from django.core.validators import MinValueValidator
from django.db import models


class LineupStudy(models.Model):
    study = models.OneToOneField("studies.Study", on_delete=models.CASCADE, primary_key=True, related_name="lineup")
    run_folder = models.CharField(max_length=1000, help_text="The comparison run's evaluation folder it came from.")
    model_names = models.JSONField(default=list, help_text="The models whose outputs stand in every lineup.")
    reference_expression = models.CharField(max_length=50, default="neutral")
    reference_lighting = models.CharField(max_length=50, default="frontal")
    seed = models.IntegerField(default=0)
    provenance = models.JSONField(default=dict, blank=True, help_text="run.json facts: command, commit, evaluation-set hash.")
    simulated = models.BooleanField(default=False, help_text="Votes come from simulated raters (the demo), not people.")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "lineup study"
        verbose_name_plural = "lineup studies"

    def __str__(self):
        return f"lineup study {self.study}"


class TargetExample(models.Model):
    """A real photograph of a target expression or lighting, shown on the instruction page."""

    class Kind(models.TextChoices):
        EXPRESSION = "expression"
        LIGHTING = "lighting"

    lineup_study = models.ForeignKey(LineupStudy, on_delete=models.CASCADE, related_name="examples")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = models.CharField(max_length=50)
    image = models.FileField(upload_to="lineup/examples/")

    class Meta:
        ordering = ["lineup_study", "kind", "value"]
        constraints = [models.UniqueConstraint(fields=["lineup_study", "kind", "value"], name="lineup_example_once")]


class Lineup(models.Model):
    """One row: the real subject (bright light, neutral) and every model's output for one
    (input, target expression, target lighting)."""

    lineup_study = models.ForeignKey(LineupStudy, on_delete=models.CASCADE, related_name="lineups")
    batch = models.ForeignKey("studies.Batch", on_delete=models.CASCADE, related_name="lineups")
    index = models.PositiveIntegerField()
    position = models.PositiveIntegerField(help_text="Order within the batch.")
    subject = models.CharField(max_length=200)
    pair_id = models.CharField(max_length=100)
    target_expression = models.CharField(max_length=50)
    target_lighting = models.CharField(max_length=50)
    reference = models.FileField(upload_to="lineup/reference/")

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(fields=["lineup_study", "index"], name="lineup_index_unique"),
            models.UniqueConstraint(fields=["batch", "position"], name="lineup_position_unique"),
        ]

    def __str__(self):
        return f"lineup {self.index + 1}: {self.subject} -> {self.target_expression}, {self.target_lighting}"


class Candidate(models.Model):
    lineup = models.ForeignKey(Lineup, on_delete=models.CASCADE, related_name="candidates")
    model_name = models.CharField(max_length=100)
    image = models.FileField(upload_to="lineup/candidates/")
    q_score = models.FloatField(null=True, blank=True, help_text="Q's score of this output, from the evaluation.")

    class Meta:
        ordering = ["lineup", "model_name"]
        constraints = [models.UniqueConstraint(fields=["lineup", "model_name"], name="candidate_model_once")]

    def __str__(self):
        return f"{self.model_name} in {self.lineup}"


class LineupView(models.Model):
    """When the server first showed a lineup to an assignment, and in which order: the window
    runs from here, and the order is this rater's own."""

    assignment = models.ForeignKey("studies.Assignment", on_delete=models.CASCADE, related_name="lineup_views")
    lineup = models.ForeignKey(Lineup, on_delete=models.CASCADE, related_name="views")
    served_at = models.DateTimeField()
    order = models.JSONField(help_text="Candidate ids, left to right on the screen.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "lineup"], name="lineup_view_once")]


class Vote(models.Model):
    assignment = models.ForeignKey("studies.Assignment", on_delete=models.CASCADE, related_name="lineup_votes")
    lineup = models.ForeignKey(Lineup, on_delete=models.CASCADE, related_name="votes")
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="votes")
    screen_position = models.PositiveSmallIntegerField(help_text="0 = leftmost (first) candidate shown.")
    order = models.JSONField(help_text="The model names in the order this rater saw them.")
    response_ms = models.PositiveIntegerField(validators=[MinValueValidator(0)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assignment", "lineup__position"]
        constraints = [models.UniqueConstraint(fields=["assignment", "lineup"], name="one_vote_per_lineup")]
