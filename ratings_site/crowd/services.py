"""Writes for the self-hosted crowd: invitations and the raters they admit."""
from __future__ import annotations

import secrets

from django.db import transaction
from django.db.models import F, Q

from ratings_site.studies import errors
from ratings_site.core.errors import ServiceError

from .models import Invitation, Rater

SELF_HOSTED = "self_hosted"


def invitations_create(*, study, count: int = 1, kind: str = Invitation.Kind.SINGLE, cap: int = 1, label: str = "") -> list[Invitation]:
    if kind == Invitation.Kind.SINGLE:
        cap = 1
    if cap < 1:
        raise ServiceError("An invitation must admit at least one rater.", code="bad_cap")
    return [Invitation.objects.create(study=study, kind=kind, cap=cap, label=label) for _ in range(count)]


def invitation_access(*, token: str) -> Invitation:
    invitation = Invitation.objects.select_related("study").filter(token=token).first()
    if invitation is None:
        raise ServiceError(errors.INVITATION_UNKNOWN, code="unknown_invitation", status=404)
    if invitation.revoked:
        raise ServiceError(errors.INVITATION_REVOKED, code="revoked", status=410)
    return invitation


def invitation_rater_known(*, invitation: Invitation, browser_key: str = "", network_key: str = "") -> Rater | None:
    """The rater this browser (or network, when the link asks) already was in this study."""
    match = Q(browser_key=browser_key) if browser_key else Q(pk__in=[])
    if invitation.one_per_network and network_key:
        match |= Q(network_key=network_key)
    return (
        Rater.objects.filter(match, provider=SELF_HOSTED, assignments__batch__study_id=invitation.study_id)
        .order_by("pk")
        .first()
    )


def invitation_redeem(*, invitation: Invitation, browser_key: str = "", network_key: str = "") -> Rater:
    """Admit one new rater through the link, within its cap."""
    with transaction.atomic():
        updated = Invitation.objects.filter(pk=invitation.pk, revoked=False, uses__lt=F("cap")).update(uses=F("uses") + 1)
        if not updated:
            raise ServiceError(errors.INVITATION_USED_UP.format(cap=invitation.cap), code="used_up", status=410)
        return Rater.objects.create(
            provider=SELF_HOSTED, external_id=f"inv{invitation.pk}-{secrets.token_hex(6)}",
            browser_key=browser_key, network_key=network_key,
        )


def rater_get_or_create(*, provider: str, environment: str, external_id: str) -> Rater:
    rater, _ = Rater.objects.get_or_create(provider=provider, environment=environment, external_id=external_id)
    return rater


def invitation_open_ensure(*, study) -> Invitation:
    """The study's open invitation link, created on first need with a cap equal to the
    study's rater places, so the link and the study agree on how many raters fit."""
    from ratings_site.studies.selectors import study_task_summary

    existing = Invitation.objects.filter(study=study, kind=Invitation.Kind.OPEN, revoked=False, uses__lt=F("cap")).first()
    if existing:
        return existing
    places = study_task_summary(study).places
    return Invitation.objects.create(study=study, kind=Invitation.Kind.OPEN, cap=places, label="created at launch")
