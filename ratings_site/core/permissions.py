"""Who may do what: the two staff groups (kept in code and applied after every migrate, so
a fresh database and an old one end up the same), and the one way an admin action or an
API write checks its own permission."""
from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.models import Group, Permission

REFUSED = "You do not have permission for that (it needs '{perm}')."

RESEARCHERS = "Researchers"
ML_STAFF = "ML staff"

GROUP_PERMISSIONS = {
    RESEARCHERS: [
        ("catalog", ["add_image", "change_image", "view_image", "add_source", "change_source", "view_source", "view_importrun"]),
        ("studies", ["add_study", "change_study", "view_study", "launch_study", "export_labels", "add_golditem", "change_golditem",
                     "delete_golditem", "view_golditem", "view_batch"]),
        ("crowd", ["add_invitation", "change_invitation", "view_invitation", "view_rater"]),
        ("labels", ["view_label", "view_raterstats", "compute_labels", "add_raterexclusion", "view_raterexclusion"]),
        ("jobs", ["view_job"]),
        ("authtoken", ["add_tokenproxy", "view_tokenproxy", "delete_tokenproxy"]),  # their own API token
        ("training", ["score_images", "view_qualitymodelversion", "view_imagescore", "view_leganmodelversion"]),
        ("preprocessing", ["run_face_analysis", "view_faceanalysis", "train_svm", "view_svmmodelversion", "view_svmscore",
                           "build_stage2", "view_stage2run"]),
        # Paid production launches need marketplace.launch_production, granted per person.
        ("marketplace", ["add_marketplacesettings", "change_marketplacesettings", "view_marketplacesettings",
                         "view_publishedtask", "change_publishedtask", "view_marketplacesubmission",
                         "change_marketplacesubmission", "view_moneyaction", "approve_submission", "reject_submission",
                         "pay_bonus", "block_worker"]),
        ("lineup", ["view_lineupstudy", "change_lineupstudy", "view_lineup", "view_vote", "view_targetexample"]),
    ],
    ML_STAFF: [
        ("catalog", ["view_image", "view_source"]),
        ("studies", ["view_study", "export_labels"]),
        ("labels", ["view_label", "view_raterstats", "compute_labels"]),
        ("jobs", ["view_job", "change_job"]),
        ("authtoken", ["add_tokenproxy", "view_tokenproxy", "delete_tokenproxy"]),
        ("preprocessing", ["view_faceanalysis", "view_svmmodelversion", "view_svmscore", "view_stage2run"]),
        ("training", ["start_training", "score_images", "view_qualitymodelversion", "change_qualitymodelversion",
                      "view_leganmodelversion", "change_leganmodelversion", "view_imagescore"]),
        ("lineup", ["view_lineupstudy", "view_lineup", "view_vote"]),
    ],
}


def groups_ensure(**_kwargs) -> None:
    for name, grants in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = []
        for app_label, codenames in grants:
            perms += list(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
        group.permissions.add(*perms)


def user_may(user, perm: str) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(perm))


def admin_action(*, permission: str, description: str):
    """An admin action guarded by its own permission: only users holding it are offered the
    action (`PermissionActionsMixin`), and a request that names it anyway is refused with
    a message and changes nothing."""

    def decorate(action):
        @functools.wraps(action)
        def guarded(modeladmin, request, queryset):
            if not user_may(request.user, permission):
                messages.error(request, REFUSED.format(perm=permission))
                return None
            return action(modeladmin, request, queryset)

        guarded.required_permission = permission
        guarded.short_description = description
        return guarded

    return decorate


class PermissionActionsMixin:
    """ModelAdmin mixin: list only the actions the user may run."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {
            name: entry for name, entry in actions.items()
            if getattr(entry[0], "required_permission", None) is None or user_may(request.user, entry[0].required_permission)
        }
