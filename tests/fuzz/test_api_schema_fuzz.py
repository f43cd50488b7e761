"""Fuzz every API operation against its own OpenAPI schema (schemathesis), as each role.

Bounded for CI: FUZZ_EXAMPLES examples per operation, each sent as every role (default 3). `make fuzz`
runs the same test with many more. Checks: no 5xx, every status code and content type is
declared for the operation, and every JSON body matches its declared schema (issue 12,
defect 11).
"""
import base64
import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.platform.factories import make_study_with_images

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PASSWORD = "fuzz-pw-123"
ROLES = ["anonymous", "researcher", "ml_staff", "superuser"]


def api_schema():
    """The schema the site serves at /api/schema/, generated in-process (no database needed)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    from ratings_site.wsgi import application

    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application  # requests go through Django's WSGI handler, in this process
    return loaded


def _signals_keep_connection(keep=True):
    """As Django's test client does: a request must not close the test's database connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    for signal in (request_started, request_finished):
        (signal.disconnect if keep else signal.connect)(close_old_connections)


@pytest.fixture(autouse=True)
def _keep_test_connection():
    _signals_keep_connection()
    yield
    _signals_keep_connection(False)


schema = api_schema()


@pytest.fixture
def world(db, django_user_model, settings):
    """Some real rows for the operations to find, and one user per role."""
    from django.contrib.auth.models import Group

    from ratings_site.jobs.groups import ML_STAFF, RESEARCHERS, groups_ensure

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast: checked per request
    groups_ensure()
    make_study_with_images(n_images=4, n_batches=2, raters=2)
    users = {}
    for role, group in (("researcher", RESEARCHERS), ("ml_staff", ML_STAFF)):
        user = django_user_model.objects.create_user(f"fuzz-{role}", password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        users[role] = user
    users["superuser"] = django_user_model.objects.create_superuser("fuzz-root", password=PASSWORD)
    from django.test import Client

    for role in ROLES:  # the fuzzer really is each role: a broken login would only fuzz 403s
        answer = Client().get("/api/studies/", HTTP_AUTHORIZATION=auth_headers(role).get("Authorization", ""))
        assert answer.status_code == (403 if role == "anonymous" else 200), (role, answer.status_code)
    _signals_keep_connection()  # the test client reconnected them
    return users


def auth_headers(role: str) -> dict:
    if role == "anonymous":
        return {}
    token = base64.b64encode(f"fuzz-{'root' if role == 'superuser' else role}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_answers_within_its_schema(case, world, settings):
    settings.AXES_ENABLED = False  # the fuzzer's wrong guesses must not lock its own users out
    for role in ROLES:  # each generated request, as every role
        case.call_and_validate(headers=auth_headers(role), checks=CHECKS)
