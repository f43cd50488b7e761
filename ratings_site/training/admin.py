from django.contrib import admin, messages
from django.utils.html import format_html

from django.shortcuts import redirect, render
from django.urls import path

from ratings_site.labels.admin import ComputedAdmin
from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import PermissionActionsMixin, admin_action

from .evaluate_jobs import legan_evaluation_latest, legan_evaluation_start
from .forms import LeganEvaluateForm, LeganTrainForm
from .legan_jobs import legan_training_start
from .models import ImageScore, LeganModelVersion, QualityModelVersion
from .services import quality_version_make_current


def _metric(version, split, name):
    from .services import MIN_MEANINGFUL_SPLIT

    metrics = (version.metrics or {}).get(split, {})
    value = metrics.get(name)
    if value is None:
        return "-"
    count = metrics.get("count")
    if count is not None and count < MIN_MEANINGFUL_SPLIT:
        # Shown, but never without saying how little it rests on.
        return format_html('{} <span style="color:#b00" title="too few images to mean much">(only {} images)</span>',
                           f"{value:.3f}", count)
    return f"{value:.3f}"


@admin.register(QualityModelVersion)
class QualityModelVersionAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("number", "is_current", "study", "val_spearman", "test_spearman", "test_mae", "data_hash_short", "created_at")
    list_select_related = ("study",)
    readonly_fields = ("number", "job", "study", "checkpoint", "config", "metrics", "data_hash", "is_current", "created_at")
    actions = ["make_current"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="val Spearman")
    def val_spearman(self, obj):
        return _metric(obj, "val", "spearman")

    @admin.display(description="test Spearman")
    def test_spearman(self, obj):
        return _metric(obj, "test", "spearman")

    @admin.display(description="test MAE")
    def test_mae(self, obj):
        return _metric(obj, "test", "mae")

    @admin.display(description="data")
    def data_hash_short(self, obj):
        return obj.data_hash[:12]

    @admin_action(permission="training.start_training", description="Make this version current")
    def make_current(self, request, queryset):
        if queryset.count() != 1:
            messages.error(request, "Choose exactly one version.")
            return
        version = quality_version_make_current(version=queryset.get())
        messages.success(request, f"{version} is now current.")


@admin.register(LeganModelVersion)
class LeganModelVersionAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("number", "is_current", "quality_version", "created_at")
    readonly_fields = ("number", "job", "quality_version", "checkpoint", "config", "evaluation", "metrics", "is_current", "created_at")
    change_list_template = "admin/training/leganmodelversion/change_list.html"
    actions = ["evaluate"]

    @admin.display(description="evaluation")
    def evaluation(self, obj):
        from .evaluate_html import evaluation_html

        return evaluation_html(legan_evaluation_latest(obj)) if obj.pk else "-"

    @admin_action(permission="training.start_training", description="Evaluate (test split of an evaluation set, GPU queue)")
    def evaluate(self, request, queryset):
        form = LeganEvaluateForm(request.POST if "pairs_manifest" in request.POST else None)
        if form.is_bound and form.is_valid():
            for version in queryset:
                try:
                    job = legan_evaluation_start(pairs_manifest=form.cleaned_data["pairs_manifest"], version=version,
                                                 user=request.user)
                except ServiceError as exc:
                    messages.error(request, f"{version}: {exc.message}")
                else:
                    messages.info(request, f"{version}: evaluation job #{job.pk} queued; the table shows on the version's page.")
            return None
        context = {**self.admin_site.each_context(request), "form": form, "versions": queryset, "title": "Evaluate LEGAN",
                   "opts": self.model._meta, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
        return render(request, "admin/training/leganmodelversion/evaluate.html", context)

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [path("train/", self.admin_site.admin_view(self.train_view), name="training_legan_train")] + super().get_urls()

    def train_view(self, request):
        if not request.user.has_perm("training.start_training"):
            messages.error(request, "Only ML staff may start training.")
            return redirect("admin:training_leganmodelversion_changelist")
        form = LeganTrainForm(request.POST) if request.method == "POST" else LeganTrainForm()
        if form.is_bound and form.is_valid():
            try:
                job = legan_training_start(config=form.config(), quality_version=form.cleaned_data["quality_version"],
                                           after_job=form.cleaned_data["after_job"], user=request.user)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"LEGAN training job #{job.pk} {job.status}.")
                if form.cleaned_data.get("evaluate_pairs"):
                    try:
                        evaluation = legan_evaluation_start(pairs_manifest=form.cleaned_data["evaluate_pairs"], after_job=job,
                                                            user=request.user)
                    except ServiceError as exc:
                        messages.error(request, f"No evaluation queued: {exc.message}")
                    else:
                        messages.success(request, f"Evaluation job #{evaluation.pk} runs when training has made its version.")
                return redirect("admin:jobs_job_change", job.pk)
        context = {**self.admin_site.each_context(request), "form": form, "title": "Train LEGAN", "opts": self.model._meta}
        return render(request, "admin/training/leganmodelversion/train.html", context)


@admin.register(ImageScore)
class ImageScoreAdmin(ComputedAdmin):
    list_display = ("image", "version", "score", "reason", "created_at")
    list_filter = ("version",)
    list_select_related = ("image", "version")


def job_plots_html(job) -> str:
    from django.core.files.storage import default_storage

    names = (job.result or {}).get("plots") or []
    if not names:
        return "No plots yet."
    return format_html("".join(
        format_html('<img src="{}" style="max-width:520px; margin-right:8px" alt="{}">', default_storage.url(n), n) for n in names
    ))
