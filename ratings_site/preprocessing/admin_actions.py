"""Preprocessing actions on the catalog's and the studies' admin pages.

The other apps' admins stay as they are; this app adds its actions to their registered
ModelAdmins at admin autodiscovery (it is installed after them)."""
from django.contrib import messages

from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import admin_action
from ratings_site.jobs.admin import jobs_report

from .analysis import faces_analysis_start
from .svm import svm_training_start

RUN_FACES = "preprocessing.run_face_analysis"
TRAIN_SVM = "preprocessing.train_svm"


def _queue(request, start, what):
    try:
        job = start()
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        jobs_report(request, job, f"{what} job")


@admin_action(permission=RUN_FACES, description="Analyse faces (background job)")
def analyse_images(modeladmin, request, queryset):
    ids = list(queryset.values_list("id", flat=True))
    _queue(request, lambda: faces_analysis_start(image_ids=ids, user=request.user), "Face analysis")


@admin_action(permission=RUN_FACES, description="Analyse faces and write masked faces (background job)")
def analyse_and_mask_images(modeladmin, request, queryset):
    ids = list(queryset.values_list("id", flat=True))
    _queue(request, lambda: faces_analysis_start(image_ids=ids, mask=True, user=request.user), "Face analysis")


@admin_action(permission=RUN_FACES, description="Analyse faces of every image of these sources")
def analyse_sources(modeladmin, request, queryset):
    sources = list(queryset)
    _queue(request, lambda: faces_analysis_start(sources=sources, user=request.user), "Face analysis")


@admin_action(permission=RUN_FACES, description="Analyse faces of the study's images (rated, or candidates of a draft)")
def analyse_study_images(modeladmin, request, queryset):
    for study in queryset:
        _queue(request, lambda: faces_analysis_start(study=study, user=request.user), f"{study}: face analysis")


@admin_action(permission=TRAIN_SVM, description="Train a stage I SVM from the study's labels")
def train_svm_from_study(modeladmin, request, queryset):
    for study in queryset:
        _queue(request, lambda: svm_training_start(study=study, user=request.user), f"{study}: SVM training")


ACTIONS = {
    "catalog.image": [analyse_images, analyse_and_mask_images],
    "catalog.source": [analyse_sources],
    "studies.study": [analyse_study_images, train_svm_from_study],
}


def extend_admin(site, *models) -> None:
    for model in models:
        model_admin = site._registry.get(model)
        if model_admin is None:
            continue
        extra = ACTIONS.get(model._meta.label_lower, [])
        current = list(model_admin.actions or [])
        model_admin.actions = current + [a for a in extra if a not in current]
