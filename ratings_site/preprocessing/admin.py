from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ratings_site.catalog.models import Image, Source
from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import PermissionActionsMixin, admin_action
from ratings_site.studies.models import Study

from .admin_actions import extend_admin
from .analysis import faces_analysis_start
from .forms import AnalyseForm, Stage2Form, SvmTrainForm
from .models import FaceAnalysis, Stage2Run, SvmModelVersion, SvmScore
from .stage2 import stage2_start
from .svm import svm_apply_start, svm_training_start

RUN_FACES = "preprocessing.run_face_analysis"
TRAIN_SVM = "preprocessing.train_svm"
BUILD_STAGE2 = "preprocessing.build_stage2"
REFUSED = "You do not have permission for that."


def _table(header, rows) -> str:
    head = "".join(format_html("<th>{}</th>", h) for h in header)
    body = "".join("<tr>" + "".join(format_html("<td>{}</td>", c) for c in row) + "</tr>" for row in rows)
    return format_html("<table><tr>{}</tr>{}</table>", mark_safe(head), mark_safe(body))


def _job_link(job):
    if job is None:
        return "-"
    return format_html('<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[job.pk]), job)


class ReadOnlyAdmin(PermissionActionsMixin, admin.ModelAdmin):
    """Rows written by jobs only; staff look, they do not edit."""

    tool = None  # (url name, label, permission) shown above the list

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        extra = dict(extra_context or {})
        if self.tool and request.user.has_perm(self.tool[2]):
            extra["tool_url"], extra["tool_label"] = reverse(self.tool[0]), self.tool[1]
        return super().changelist_view(request, extra_context=extra)

    def _form_page(self, request, form, title, submit):
        context = {**self.admin_site.each_context(request), "form": form, "title": title, "submit": submit, "opts": self.model._meta}
        return render(request, "admin/preprocessing/form.html", context)


@admin.register(FaceAnalysis)
class FaceAnalysisAdmin(ReadOnlyAdmin):
    list_display = ("id", "image", "status", "reason", "n_faces", "yaw_display", "gender", "landmarks_backend",
                    "gender_backend", "features_backend", "created_at")
    list_filter = ("status", "reason", "landmarks_backend", "gender_backend", "features_backend")
    list_select_related = ("image",)
    search_fields = ("image__original_name", "=image__id")
    exclude = ("features",)
    readonly_fields = ("display_face", "feature_summary")
    change_list_template = "admin/preprocessing/change_list.html"
    tool = ("admin:preprocessing_faceanalysis_analyse", "Analyse faces", RUN_FACES)

    @admin.display(description="yaw")
    def yaw_display(self, obj):
        return "-" if obj.yaw is None else f"{obj.yaw:+.1f}"

    @admin.display(description="masked face (what raters see)")
    def display_face(self, obj):
        if not obj.image.display_file:
            return "not masked yet"
        return format_html('<img src="{}" width="128" height="128">', obj.image.display_file.url)

    @admin.display(description="features")
    def feature_summary(self, obj):
        vector = obj.feature_vector()
        return "-" if vector is None else f"{vector.size}-d ({obj.features_version}); norm {float((vector ** 2).sum() ** 0.5):.3f}"

    def get_urls(self):
        return [path("analyse/", self.admin_site.admin_view(self.analyse_view), name="preprocessing_faceanalysis_analyse")] + super().get_urls()

    def analyse_view(self, request):
        if not request.user.has_perm(RUN_FACES):
            messages.error(request, REFUSED)
            return redirect("admin:preprocessing_faceanalysis_changelist")
        form = AnalyseForm(request.POST or None)
        if form.is_bound and form.is_valid():
            try:
                job = faces_analysis_start(
                    sources=form.cleaned_data["sources"], study=form.cleaned_data["study"], options=form.analysis_options(),
                    mask=form.cleaned_data["mask"], user=request.user,
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Face analysis job #{job.pk} queued for {job.params['images']} images.")
                return redirect("admin:jobs_job_change", job.pk)
        return self._form_page(request, form, "Analyse faces", "Start analysis")


@admin.register(SvmModelVersion)
class SvmModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("number", "study", "features_backend", "c", "accuracy_display", "balanced_display", "images", "created_at")
    list_select_related = ("study",)
    exclude = ("confusion", "c_search", "counts")
    readonly_fields = ("confusion_table", "c_search_table", "counts_table")
    change_list_template = "admin/preprocessing/change_list.html"
    tool = ("admin:preprocessing_svmmodelversion_train", "Train a stage I SVM", TRAIN_SVM)
    actions = ["score_every_source"]

    @admin.display(description="held-out accuracy")
    def accuracy_display(self, obj):
        return f"{obj.accuracy:.3f}"

    @admin.display(description="balanced accuracy")
    def balanced_display(self, obj):
        return f"{obj.balanced_accuracy:.3f}"

    @admin.display(description="images (train / held out)")
    def images(self, obj):
        return f"{obj.counts.get('train', '?')} / {obj.counts.get('heldout', '?')}"

    @admin.display(description="held-out confusion matrix (rows: rated, columns: predicted)")
    def confusion_table(self, obj):
        labels = obj.confusion.get("labels", [])
        matrix = obj.confusion.get("matrix", [])
        return _table(["", *labels], [[label, *row] for label, row in zip(labels, matrix)])

    @admin.display(description="C search on the held-out split")
    def c_search_table(self, obj):
        rows = [[f"{r['C']:g}", f"{r['accuracy']:.3f}", f"{r['balanced_accuracy']:.3f}", f"{r['train_accuracy']:.3f}",
                 "" if r["converged"] else "did not converge"] for r in obj.c_search]
        return _table(["C", "accuracy", "balanced accuracy", "train accuracy", ""], rows)

    @admin.display(description="counts")
    def counts_table(self, obj):
        return _table(["", "images"], sorted(obj.counts.items()))

    def get_urls(self):
        return [path("train/", self.admin_site.admin_view(self.train_view), name="preprocessing_svmmodelversion_train")] + super().get_urls()

    def train_view(self, request):
        if not request.user.has_perm(TRAIN_SVM):
            messages.error(request, REFUSED)
            return redirect("admin:preprocessing_svmmodelversion_changelist")
        form = SvmTrainForm(request.POST or None)
        if form.is_bound and form.is_valid():
            try:
                job = svm_training_start(study=form.cleaned_data["study"], params=form.svm_params(), user=request.user)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"SVM training job #{job.pk} queued.")
                return redirect("admin:jobs_job_change", job.pk)
        return self._form_page(request, form, "Train a stage I SVM", "Start training")

    @admin_action(permission=TRAIN_SVM, description="Score every source's analysed images with this version")
    def score_every_source(self, request, queryset):
        from .selection import selection_params

        for version in queryset:
            job = svm_apply_start(version=version, selection=selection_params(sources=Source.objects.all()), user=request.user)
            messages.info(request, f"{version}: scoring job #{job.pk} queued.")


@admin.register(SvmScore)
class SvmScoreAdmin(ReadOnlyAdmin):
    list_display = ("image", "version", "label", "score", "created_at")
    list_filter = ("version", "label")
    list_select_related = ("image", "version")


@admin.register(Stage2Run)
class Stage2RunAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "svm_version", "status", "study", "sampled", "problem_count", "created_at")
    list_select_related = ("svm_version", "study")
    exclude = ("funnel", "problems")
    readonly_fields = ("funnel_table", "strata_table", "problem_list", "job_link", "study_link")
    change_list_template = "admin/preprocessing/change_list.html"
    tool = ("admin:preprocessing_stage2run_build", "Build a stage II study", BUILD_STAGE2)

    @admin.display(description="sampled")
    def sampled(self, obj):
        return (obj.funnel or {}).get("total", {}).get("sampled", "-")

    @admin.display(description="problems")
    def problem_count(self, obj):
        return len(obj.problems or [])

    @admin.display(description="funnel")
    def funnel_table(self, obj):
        funnel = obj.funnel or {}
        if not funnel:
            return "Not built yet: follow the job."
        stages = funnel["stages"]
        rows = [[source, *(counts[s] for s in stages)] for source, counts in funnel["by_source"].items()]
        rows.append(["all sources", *(funnel["total"][s] for s in stages)])
        return _table(["source", *(s.replace("_", " ") for s in stages)], rows)

    @admin.display(description="strata (svm_class x gender)")
    def strata_table(self, obj):
        strata = (obj.funnel or {}).get("strata") or []
        return _table(["stratum", "available", "quota", "short"], [[s["stratum"], s["available"], s["quota"], s["short"] or ""] for s in strata])

    @admin.display(description="problems")
    def problem_list(self, obj):
        if not obj.problems:
            return "none"
        return format_html("<ul>{}</ul>", mark_safe("".join(format_html('<li style="color:#b00">{}</li>', p) for p in obj.problems)))

    @admin.display(description="job")
    def job_link(self, obj):
        return _job_link(obj.job)

    @admin.display(description="study")
    def study_link(self, obj):
        if obj.study_id is None:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:studies_study_change", args=[obj.study_id]), obj.study)

    def get_urls(self):
        return [path("build/", self.admin_site.admin_view(self.build_view), name="preprocessing_stage2run_build")] + super().get_urls()

    def build_view(self, request):
        if not request.user.has_perm(BUILD_STAGE2):
            messages.error(request, REFUSED)
            return redirect("admin:preprocessing_stage2run_changelist")
        form = Stage2Form(request.POST or None)
        if form.is_bound and form.is_valid():
            try:
                run = stage2_start(**form.cleaned_data, user=request.user)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Stage II build #{run.pk} queued (job #{run.job_id}).")
                return redirect("admin:preprocessing_stage2run_change", run.pk)
        return self._form_page(request, form, "Build a stage II study", "Build")


extend_admin(admin.site, Image, Source, Study)
