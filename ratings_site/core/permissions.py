"""The two staff groups and what they may do. Kept in code and applied after every
migrate, so a fresh database and an old one end up the same."""
from django.contrib.auth.models import Group, Permission

RESEARCHERS = "Researchers"
ML_STAFF = "ML staff"

GROUP_PERMISSIONS = {
    RESEARCHERS: [
        ("catalog", ["add_image", "change_image", "view_image", "add_source", "change_source", "view_source", "view_importrun"]),
        ("studies", ["add_study", "change_study", "view_study", "launch_study", "export_labels", "add_golditem", "change_golditem",
                     "delete_golditem", "view_golditem", "view_batch"]),
        ("crowd", ["add_invitation", "change_invitation", "view_invitation", "view_rater"]),
        ("labels", ["view_label", "view_raterstats"]),
        ("jobs", ["view_job"]),
        ("training", ["score_images", "view_qualitymodelversion", "view_imagescore", "view_leganmodelversion"]),
        ("preprocessing", ["run_face_analysis", "view_faceanalysis", "train_svm", "view_svmmodelversion", "view_svmscore",
                           "build_stage2", "view_stage2run"]),
        # Paid production launches need marketplace.launch_production, granted per person.
        ("marketplace", ["add_marketplacesettings", "change_marketplacesettings", "view_marketplacesettings",
                         "view_publishedtask", "change_publishedtask", "view_marketplacesubmission",
                         "change_marketplacesubmission"]),
    ],
    ML_STAFF: [
        ("catalog", ["view_image", "view_source"]),
        ("studies", ["view_study", "export_labels"]),
        ("labels", ["view_label", "view_raterstats"]),
        ("jobs", ["view_job", "change_job"]),
        ("preprocessing", ["view_faceanalysis", "view_svmmodelversion", "view_svmscore", "view_stage2run"]),
        ("training", ["start_training", "score_images", "view_qualitymodelversion", "change_qualitymodelversion",
                      "view_leganmodelversion", "change_leganmodelversion", "view_imagescore"]),
    ],
}


def groups_ensure(**_kwargs) -> None:
    for name, grants in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = []
        for app_label, codenames in grants:
            perms += list(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
        group.permissions.add(*perms)
