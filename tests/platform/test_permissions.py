"""Every admin action and every API write checks its own permission, for each role:
anonymous, non-staff, staff without permissions, researcher, ML staff, superuser."""
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from rest_framework.test import APIClient

from ratings_site.core.permissions import ML_STAFF, RESEARCHERS, groups_ensure
from ratings_site.crowd.models import Invitation
from ratings_site.jobs.models import Job

from .factories import make_study_with_images

ROLES = ["anonymous", "non_staff", "staff_no_perms", "researcher", "ml_staff", "superuser"]


@pytest.fixture
def user_for(django_user_model):
    groups_ensure()

    def make(role):
        if role == "anonymous":
            return None
        if role == "superuser":
            return django_user_model.objects.create_superuser("sue", password="pw-sue-123")
        user = django_user_model.objects.create_user(role, password=f"pw-{role}-123", is_staff=role != "non_staff")
        group = {"researcher": RESEARCHERS, "ml_staff": ML_STAFF}.get(role)
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    return make


def _admin_actions():
    for model, model_admin in admin.site._registry.items():
        for name, (func, _name, _description) in admin.ModelAdmin.get_actions(model_admin, _superuser_request()).items():
            yield model, model_admin, name, func


def _superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = type("Root", (), {"is_active": True, "is_authenticated": True, "is_staff": True, "is_superuser": True,
                                     "has_perm": lambda self, perm, obj=None: True})()
    return request


def test_every_admin_action_declares_its_permission():
    missing = [f"{model._meta.label}.{name}" for model, _admin, name, func in _admin_actions()
               if name != "delete_selected" and not getattr(func, "required_permission", None)]
    assert missing == [], f"admin actions without their own permission: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["staff_no_perms", "researcher", "ml_staff", "superuser"])
def test_the_admin_offers_each_action_only_to_users_holding_its_permission(role, user_for):
    user = user_for(role)
    request = RequestFactory().get("/admin/")
    request.user = user
    for model, model_admin, name, func in _admin_actions():
        if name == "delete_selected":
            continue
        offered = name in model_admin.get_actions(request)
        assert offered == user.has_perm(func.required_permission), (model._meta.label, name, role)


def _post_action(client, user, url, action, pks):
    if user is not None:
        client.force_login(user)
    return client.post(url, {"action": action, "_selected_action": pks}, follow=True)


# (action, who may run it): the three actions that had no check before.
COMPUTE = {"researcher", "ml_staff", "superuser"}
INVITE = {"researcher", "superuser"}
CANCEL = {"ml_staff", "superuser"}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_compute_labels_needs_its_permission(role, user_for, client, django_capture_on_commit_callbacks):
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    with django_capture_on_commit_callbacks(execute=True):
        _post_action(client, user_for(role), "/admin/studies/study/", "compute_labels", [study.pk])
    assert Job.objects.filter(study=study, kind=Job.Kind.LABELS).exists() == (role in COMPUTE)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_creating_invitation_links_needs_its_permission(role, user_for, client):
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    _post_action(client, user_for(role), "/admin/studies/study/", "add_invitations", [study.pk])
    assert Invitation.objects.filter(study=study).count() == (5 if role in INVITE else 0)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_cancelling_jobs_needs_its_permission(role, user_for, client):
    job = Job.objects.create(kind=Job.Kind.EXPORT, status=Job.Status.RUNNING)
    _post_action(client, user_for(role), "/admin/jobs/job/", "cancel", [job.pk])
    job.refresh_from_db()
    assert job.cancel_requested == (role in CANCEL)


@pytest.mark.django_db
def test_a_refused_action_says_which_permission_it_needs(user_for, client):
    study = make_study_with_images(n_images=2, n_batches=1, raters=1)
    page = _post_action(client, user_for("ml_staff"), "/admin/studies/study/", "add_invitations", [study.pk])
    # Not offered to ML staff, so Django answers that no valid action was chosen; nothing is created.
    assert page.status_code == 200 and not Invitation.objects.exists()


# Writes anyone may make, each for a reason: the rater endpoints (the assignment's secret
# token in the URL is the credential). Anything else public must be added here, knowingly.
PUBLIC_WRITE_PREFIXES = ("/api/rate/",)


def _api_writes():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in ("post", "put", "patch", "delete"):
                yield method, path, {} in (operation.get("security") or [])


def test_the_only_public_api_writes_are_the_declared_ones():
    public = [f"{method.upper()} {path}" for method, path, anonymous in _api_writes() if anonymous]
    assert public and all(p.split(" ", 1)[1].startswith(PUBLIC_WRITE_PREFIXES) for p in public), public


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["anonymous", "non_staff", "staff_no_perms"])
def test_every_api_write_refuses_users_without_its_permission(role, user_for):
    api = APIClient()
    user = user_for(role)
    if user is not None:
        api.force_authenticate(user)
    writes = [(m, re.sub(r"\{[^}]+\}", "1", p)) for m, p, _ in _api_writes() if not p.startswith(PUBLIC_WRITE_PREFIXES)]
    assert len(writes) >= 8
    answered = {f"{method.upper()} {path}": getattr(api, method)(path, {}, format="json").status_code for method, path in writes}
    assert {k: v for k, v in answered.items() if v not in (401, 403)} == {}
