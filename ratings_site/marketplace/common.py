"""Rules both marketplaces share: HTTPS site, the production gate, environment checks."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from ratings_site.jobs.models import Job
from ratings_site.core.errors import ServiceError

from . import errors
from .models import MarketplaceSettings

ENVIRONMENTS = ("sandbox", "production")
PRODUCTION = "production"
LAUNCH_PRODUCTION_PERMISSION = "marketplace.launch_production"


def market_settings(study) -> MarketplaceSettings | None:
    return MarketplaceSettings.objects.filter(study=study).select_related("production_confirmed_by").first()


def site_url() -> str:
    return settings.SITE_URL.rstrip("/")


def site_problems(provider: str) -> list[str]:
    url = site_url()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return [errors.SITE_NOT_HTTPS.format(url=url, provider=provider)]
    return []


def environment_problems(provider: str, environment: str) -> list[str]:
    if environment not in ENVIRONMENTS:
        return [errors.BAD_ENVIRONMENT.format(provider=provider, environment=environment)]
    return []


def production_gate_problems(study, market: MarketplaceSettings, full_cost: Decimal) -> list[str]:
    """A production launch needs a confirmation, by a permitted user, at today's exact cost."""
    if study.provider_environment != PRODUCTION:
        return []
    if market.production_confirmed_at is None:
        return [errors.PRODUCTION_NOT_CONFIRMED.format(cost=full_cost)]
    user = market.production_confirmed_by
    if user is None or not user.has_perm(LAUNCH_PRODUCTION_PERMISSION):
        return [errors.PRODUCTION_CONFIRMER_LACKS_PERMISSION.format(user=user or "nobody")]
    if market.production_confirmed_cost != full_cost:
        return [errors.PRODUCTION_CONFIRMED_OTHER_COST.format(confirmed=market.production_confirmed_cost, cost=full_cost)]
    return []


def production_confirm(*, market: MarketplaceSettings, user, full_cost: Decimal) -> MarketplaceSettings:
    if not user.has_perm(LAUNCH_PRODUCTION_PERMISSION):
        raise ServiceError(errors.CONFIRM_NEEDS_PERMISSION, code="forbidden", status=403)
    study = market.study
    if study.provider_environment != PRODUCTION:
        raise ServiceError(
            errors.CONFIRM_ONLY_PRODUCTION.format(study=study, environment=study.provider_environment), code="not_production"
        )
    market.production_confirmed_by = user
    market.production_confirmed_at = timezone.now()
    market.production_confirmed_cost = full_cost
    market.save(update_fields=["production_confirmed_by", "production_confirmed_at", "production_confirmed_cost"])
    return market


def require_same_environment(study, record_environment: str) -> None:
    """Money and blocks only ever go to records of the study's own environment."""
    if record_environment != study.provider_environment:
        raise ServiceError(
            errors.ENVIRONMENT_MISMATCH.format(record=record_environment, study=study.provider_environment),
            code="environment_mismatch",
            status=409,
        )


PUBLISH = Job.Kind.PUBLISH
MARKET_SYNC = Job.Kind.MARKET_SYNC
