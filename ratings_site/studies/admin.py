from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitations_create
from ratings_site.labels.models import RaterStats
from ratings_site.marketplace.admin import MarketplaceSettingsInline
from ratings_site.labels.services import export_job_start, labels_job_start

from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import PermissionActionsMixin, admin_action
from ratings_site.jobs.admin import jobs_report

from .models import Batch, GoldItem, Study
from .sampling import study_sample_plan
from .selectors import batches_progress, studies_with_progress
from .services import study_launch, study_pause, study_save


class GoldItemInline(admin.TabularInline):
    model = GoldItem
    extra = 0
    raw_id_fields = ("image",)


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    fields = ("kind", "cap", "uses", "label", "revoked", "link")
    readonly_fields = ("uses", "link")

    @admin.display(description="link")
    def link(self, obj):
        if not obj.pk:
            return "-"
        url = reverse("rating:invitation", args=[obj.token])
        return format_html('<a href="{}">{}</a>', url, url)


def _run(request, queryset, service, done_message):
    for study in queryset:
        try:
            service(study=study)
        except ServiceError as exc:
            messages.error(request, f"{study}: {exc.message}")
        else:
            messages.success(request, f"{study}: {done_message}")


LIVE_SCRIPT = """
(function () {
  var box = document.getElementById("adaptive-live");
  if (!box) return;
  setInterval(function () {
    fetch(box.dataset.url + "?html=1", {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && d.html) box.innerHTML = d.html; });
  }, 5000);
})();
"""


def adaptive_progress_html(study) -> str:
    from .adaptive import adaptive_progress

    p = adaptive_progress(study)
    bars = "".join(
        format_html("<tr><td>{}</td><td>{}</td><td><div style='background:#79aec8;height:10px;width:{}px'></div></td></tr>",
                    k, v, int(200 * v / max(p["images"], 1)))
        for k, v in sorted(p["raters_per_image"].items())
    )
    money = p["to_finish"].get("money")
    return format_html(
        "<p>Ratings spent: <b>{}</b> of {}; images meeting the stopping rule: <b>{}</b> of {}.</p>"
        "<p>Projected to finish: {} more ratings ({} batches{}){}.</p>"
        "<table><tr><th>raters</th><th>images</th><th></th></tr>{}</table>",
        p["ratings_spent"], p["budget"], p["meeting_rule"], p["images"],
        p["to_finish"]["ratings"], p["to_finish"]["batches"], f", {money:.2f} in rewards" if money is not None else "",
        " - more than the budget left" if p["budget_short"] else "", mark_safe(bars),
    )


@admin.register(Study)
class StudyAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("name", "status", "provider", "n_batches", "raters_per_batch", "viewing_seconds", "progress", "created_at")
    list_filter = ("status", "provider")
    search_fields = ("name",)
    filter_horizontal = ("sources",)
    inlines = [GoldItemInline, InvitationInline, MarketplaceSettingsInline]
    actions = ["launch", "pause", "compute_labels", "export_csv", "export_parquet", "add_invitations", "train_quality", "score_with_current_q"]
    readonly_fields = (
        "status", "launched_at", "completed_at", "sample_preview", "batch_progress", "agreement_summary", "flagged_raters",
        "adaptive_live",
    )
    fieldsets = (
        (None, {"fields": ("name", "description", "instructions", "status", "provider", "provider_environment")}),
        ("Sampling rule", {"fields": ("sources", "metadata_filter", "strata", "sample_size", "seed", "sample_preview")}),
        ("Design", {"fields": ("n_batches", "raters_per_batch", "viewing_seconds", "answer_grace_seconds", "slot_timeout_minutes", "gold_min_pass_rate")}),
        ("Adaptive design (instead of a fixed number of raters per batch)", {
            "fields": ("adaptive", "rating_budget", "items_per_batch", "min_raters", "max_raters", "stop_half_width", "adaptive_live"),
            "description": "An adaptive study spends its budget where labels are least certain: one rater per batch, "
                           "batches = budget / images per batch (set on save).",
        }),
        ("Progress", {"fields": ("launched_at", "completed_at", "batch_progress", "agreement_summary", "flagged_raters")}),
    )

    def get_queryset(self, request):
        return studies_with_progress()

    def save_model(self, request, obj, form, change):
        study_save(study=obj, user=request.user)

    @admin.display(description="raters submitted / needed")
    def progress(self, obj):
        return f"{obj.submitted_count} / {obj.batch_count * obj.raters_per_batch}"

    @admin.display(description="what the rule would sample")
    def sample_preview(self, obj):
        if not obj.pk:
            return "Save the study to preview its sample."
        plan = study_sample_plan(obj)
        rows = "".join(
            format_html("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", s.label, s.available, s.quota, s.short or "")
            for s in plan.strata
        )
        problems = "".join(format_html('<li style="color:#b00">{}</li>', p) for p in plan.problems)
        return format_html(
            "<p>{} images match the filters; {} lack a stratum key. {}</p>"
            "<table><tr><th>stratum</th><th>available</th><th>quota</th><th>short</th></tr>{}</table><ul>{}</ul>",
            plan.matched, plan.missing_strata_keys, "Ready to launch." if plan.ok else "Cannot launch yet:",
            mark_safe(rows), mark_safe(problems),
        )

    @admin.display(description="batches (ratings done / needed)")
    def batch_progress(self, obj):
        if not obj.pk:
            return "-"
        rows = "".join(
            format_html(
                "<tr><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td></tr>",
                r["index"] + 1, r["ratings_done"], r["ratings_needed"], r["submitted"], r["active"],
            )
            for r in batches_progress(obj)
        )
        return format_html("<table><tr><th>batch</th><th>ratings</th><th>submitted</th><th>active</th></tr>{}</table>", mark_safe(rows))

    @admin.display(description="adaptive progress (live)")
    def adaptive_live(self, obj):
        if not obj.pk or not obj.adaptive:
            return "-"
        # The block reloads itself from the API every few seconds while the page is open.
        url = reverse("api:study-adaptive", args=[obj.pk])
        return format_html(
            '<div id="adaptive-live" data-url="{}">{}</div><script>{}</script>', url, adaptive_progress_html(obj), mark_safe(LIVE_SCRIPT)
        )

    @admin.display(description="agreement")
    def agreement_summary(self, obj):
        a = obj.agreement or {}
        if not a:
            return "Not computed yet."
        alpha = a.get("krippendorff_alpha_interval")
        return format_html(
            "Krippendorff's alpha (interval): <b>{}</b> over {} ratings of {} images; {} raters excluded by gold checks.",
            "n/a" if alpha is None else f"{alpha:.3f}", a.get("n_ratings"), a.get("n_images"), a.get("excluded_raters"),
        )

    @admin.display(description="raters (most deviant first)")
    def flagged_raters(self, obj):
        stats = RaterStats.objects.filter(study=obj).select_related("rater").order_by("-excluded", "-mad_from_others")[:20]
        rows = "".join(
            format_html(
                "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td></tr>",
                s.rater, s.n_ratings, s.gold_passed, s.gold_checks,
                "-" if s.mad_from_others is None else f"{s.mad_from_others:.2f}", "EXCLUDED" if s.excluded else "",
            )
            for s in stats
        )
        return format_html(
            "<table><tr><th>rater</th><th>ratings</th><th>gold</th><th>MAD from others</th><th></th></tr>{}</table>", mark_safe(rows)
        )

    @admin_action(permission="studies.launch_study", description="Launch (or resume) selected studies")
    def launch(self, request, queryset):
        _run(request, queryset, study_launch, "running")

    @admin_action(permission="studies.launch_study", description="Pause selected studies")
    def pause(self, request, queryset):
        _run(request, queryset, study_pause, "paused")

    @admin_action(permission="labels.compute_labels", description="Compute labels (background job)")
    def compute_labels(self, request, queryset):
        for study in queryset:
            jobs_report(request, labels_job_start(study_id=study.pk, user=request.user), f"{study}: label job")

    def _export(self, request, queryset, fmt):
        for study in queryset:
            jobs_report(request, export_job_start(study=study, fmt=fmt, user=request.user), f"{study}: {fmt} export job")

    @admin_action(permission="studies.export_labels", description="Export labels as CSV")
    def export_csv(self, request, queryset):
        self._export(request, queryset, "csv")

    @admin_action(permission="studies.export_labels", description="Export labels as Parquet")
    def export_parquet(self, request, queryset):
        self._export(request, queryset, "parquet")

    @admin_action(permission="training.start_training", description="Train Q from these labels (ML staff, GPU queue)")
    def train_quality(self, request, queryset):
        from ratings_site.training.services import quality_training_start

        for study in queryset:
            try:
                job = quality_training_start(study=study, user=request.user)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                jobs_report(request, job, f"{study}: Q training job")

    @admin_action(permission="training.score_images", description="Score images with the current Q")
    def score_with_current_q(self, request, queryset):
        from ratings_site.training.services import quality_current, quality_scoring_start

        for study in queryset:
            try:
                job = quality_scoring_start(study=study, version=quality_current(), user=request.user)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                jobs_report(request, job, f"{study}: scoring job")

    @admin_action(permission="crowd.add_invitation", description="Create 5 single-use invitation links")
    def add_invitations(self, request, queryset):
        for study in queryset:
            invitations_create(study=study, count=5)
            messages.success(request, f"{study}: 5 invitation links created (see the study page).")


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("study", "index", "external_id")
    list_filter = ("study",)
    list_select_related = ("study",)
