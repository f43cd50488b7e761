import secrets

from django.db import models


def _token() -> str:
    return secrets.token_urlsafe(24)


class Rater(models.Model):
    """A person who rates, as known to one crowd provider (a worker id, a participant id,
    or an id the self-hosted crowd makes when an invitation is used)."""

    provider = models.CharField(max_length=30)
    external_id = models.CharField(max_length=200)
    environment = models.CharField(
        max_length=20, default="live", help_text="sandbox or production for marketplaces; live for self-hosted."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Open invitation links only (crowd/browser_keys.py): keyed hashes, never the raw values.
    browser_key = models.CharField(max_length=64, blank=True, db_index=True)
    network_key = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "environment", "external_id"], name="rater_unique_per_provider")
        ]

    def __str__(self):
        return f"{self.provider}:{self.external_id}"


class Invitation(models.Model):
    """A link for the self-hosted crowd: single-use, or open with a cap on raters."""

    class Kind(models.TextChoices):
        SINGLE = "single", "single-use"
        OPEN = "open", "open link with a cap"

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="invitations")
    token = models.CharField(max_length=64, unique=True, default=_token)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SINGLE)
    cap = models.PositiveIntegerField(default=1, help_text="Most raters this link admits.")
    uses = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=200, blank=True, help_text="Who it was sent to, for your records.")
    one_per_network = models.BooleanField(
        default=False,
        help_text="Open links: treat the same address and browser as the same rater, even after cookies are cleared "
        "(also merges people who share a network and browser).",
    )
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(uses__lte=models.F("cap")), name="invitation_uses_within_cap")]

    def __str__(self):
        return f"{self.get_kind_display()} invitation to {self.study}"

    @property
    def remaining(self) -> int:
        return max(self.cap - self.uses, 0)
