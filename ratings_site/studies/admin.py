from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ratings_site.crowd.models import Invitation
from ratings_site.crowd.services import invitation_open_ensure, invitations_create
from ratings_site.labels.models import RaterStats
from ratings_site.marketplace.admin import MarketplaceSettingsInline
from ratings_site.labels.services import export_job_start, labels_job_start

from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import REFUSED, PermissionActionsMixin, admin_action, user_may
from ratings_site.jobs.admin import jobs_report

from .models import Batch, GoldItem, Study
from .sampling import study_sample_plan
from .plots import PLOTS, study_plot_png
from .selectors import batches_progress, studies_with_progress, study_live, study_task_summary
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


def invitation_absolute_url(request, invitation: Invitation) -> str:
    return request.build_absolute_uri(reverse("rating:invitation", args=[invitation.token]))


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
    readonly_fields = ("status", "launched_at", "completed_at", "sample_preview", "task_summary", "batch_progress",
                       "agreement_summary", "flagged_raters", "plots", "adaptive_live")
    raw_id_fields = ("example_natural", "example_unnatural")
    change_form_template = "admin/studies/study/change_form.html"
    fieldsets = (
        (None, {"fields": ("name", "description", "status", "provider", "provider_environment")}),
        ("What raters read", {"fields": ("instructions", "consent_statement", "pay_description", "expected_minutes",
                                         "example_natural", "example_unnatural")}),
        ("Sampling rule", {"fields": ("sources", "metadata_filter", "strata", "sample_size", "seed", "sample_preview")}),
        ("Design", {"fields": ("n_batches", "raters_per_batch", "viewing_seconds", "answer_grace_seconds", "slot_timeout_minutes",
                               "gold_min_pass_rate", "task_summary")}),
        ("Adaptive design (instead of a fixed number of raters per batch)", {
            "fields": ("adaptive", "rating_budget", "items_per_batch", "min_raters", "max_raters", "stop_half_width", "adaptive_live"),
            "description": "An adaptive study spends its budget where labels are least certain: one rater per batch, "
                           "batches = budget / images per batch (set on save).",
        }),
        ("Progress", {"fields": ("launched_at", "completed_at", "batch_progress", "agreement_summary", "flagged_raters", "plots")}),
    )

    # --- the study page's own buttons, live data and plots ---------------------------------

    def get_urls(self):
        own = [
            path("<int:pk>/launch/", self.admin_site.admin_view(self.launch_view), name="studies_study_launch"),
            path("<int:pk>/pause/", self.admin_site.admin_view(self.pause_view), name="studies_study_pause"),
            path("<int:pk>/live.json", self.admin_site.admin_view(self.live_view), name="studies_study_live"),
            path("<int:pk>/plots/<str:name>.png", self.admin_site.admin_view(self.plot_view), name="studies_study_plot"),
        ]
        return own + super().get_urls()

    def _study_or_404(self, request, pk):
        study = get_object_or_404(Study, pk=pk)
        if not self.has_view_permission(request, study):
            raise Http404
        return study

    def launch_view(self, request, pk):
        return self._state_change(request, pk, study_launch, "running")

    def pause_view(self, request, pk):
        return self._state_change(request, pk, study_pause, "paused")

    def _state_change(self, request, pk, service, done):
        if request.method != "POST":
            return HttpResponse("Use the button on the study page (POST).", status=405)
        study = self._study_or_404(request, pk)
        back = HttpResponseRedirect(reverse("admin:studies_study_change", args=[pk]))
        if not user_may(request.user, "studies.launch_study"):
            messages.error(request, REFUSED.format(perm="studies.launch_study"))
            return back
        try:
            study = service(study=study)
        except ServiceError as exc:
            messages.error(request, f"{study}: {exc.message}")
            return back
        messages.success(request, f"{study}: {done}.")
        if done == "running" and study.provider == Study.Provider.SELF_HOSTED:
            link = invitation_absolute_url(request, invitation_open_ensure(study=study))
            messages.info(request, f"Invitation link for raters: {link}")
        return back

    def live_view(self, request, pk):
        return JsonResponse(study_live(self._study_or_404(request, pk)))

    def plot_view(self, request, pk, name):
        if name not in PLOTS:
            raise Http404
        response = HttpResponse(study_plot_png(self._study_or_404(request, pk), name), content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        study = Study.objects.filter(pk=object_id).first()
        if study is not None:
            invitation = None
            if study.provider == Study.Provider.SELF_HOSTED and study.status in (Study.Status.RUNNING, Study.Status.PAUSED):
                invitation = invitation_open_ensure(study=study)
            extra_context.update({
                "study_obj": study,
                "invitation_url": invitation_absolute_url(request, invitation) if invitation else None,
                "invitation_obj": invitation,
                "can_launch": request.user.has_perm("studies.launch_study"),
                "live_url": reverse("admin:studies_study_live", args=[study.pk]),
                "refresh_ms": getattr(settings, "ADMIN_LIVE_REFRESH_MS", 5000),
            })
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    @admin.display(description="the task")
    def task_summary(self, obj):
        if not obj.pk:
            return "-"
        summary = study_task_summary(obj)
        return f"{summary.for_researchers}; a rater sees {summary.for_raters}"

    @admin.display(description="plots")
    def plots(self, obj):
        if not obj.pk:
            return "-"
        imgs = "".join(
            format_html('<img class="study-plot" id="plot-{}" data-src="{}" src="{}" alt="{} plot" width="450" height="270" '
                        'style="margin:0 0.5em 0.5em 0;border:1px solid #ddd">',
                        name, url, url, name)
            for name in PLOTS
            for url in [reverse("admin:studies_study_plot", args=[obj.pk, name])]
        )
        return mark_safe(imgs)

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
                '<tr id="batch-{}"><td>{}</td><td class="ratings">{} / {}</td><td class="submitted">{}</td><td class="active">{}</td></tr>',
                r["number"], r["number"], r["ratings_done"], r["ratings_needed"], r["submitted"], r["active"],
            )
            for r in batches_progress(obj)
        )
        return format_html('<table id="batch-table"><tr><th>batch</th><th>ratings</th><th>submitted</th><th>active</th></tr>{}</table>', mark_safe(rows))

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
        stats = RaterStats.objects.filter(study=obj).select_related("rater").order_by("-flagged", "-excluded", "-mad_from_others")[:20]
        rows = "".join(
            format_html(
                '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td></tr>',
                reverse("admin:crowd_rater_change", args=[s.rater_id]), s.rater, s.n_ratings, s.gold_passed, s.gold_checks,
                "-" if s.mad_from_others is None else f"{s.mad_from_others:.2f}",
                ", ".join(w for w, on in (("FLAGGED", s.flagged), ("excluded by gold checks", s.excluded),
                                          ("excluded by hand", s.excluded_by_hand)) if on),
            )
            for s in stats
        )
        manage = reverse("admin:labels_raterstats_changelist") + f"?study__id__exact={obj.pk}&flagged__exact=1"
        return format_html(
            '<table><tr><th>rater</th><th>ratings</th><th>gold</th><th>MAD from others</th><th></th></tr>{}</table>'
            '<p><a href="{}">Flagged raters of this study: review and exclude from labels</a></p>', mark_safe(rows), manage
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
        """A form with Q's options and their defaults; checked, with the split sizes it would
        give, before a job is queued."""
        from django.shortcuts import render

        from ratings_site.training.forms import QualityTrainForm
        from ratings_site.training.services import quality_split_sizes, quality_split_warnings, quality_training_start

        if queryset.count() != 1:
            messages.error(request, "Choose exactly one study to train Q on.")
            return None
        study = queryset.get()
        form = QualityTrainForm(request.POST if "train_q_submit" in request.POST else None)
        config = form.config() if form.is_bound and form.is_valid() else {}
        try:
            sizes = quality_split_sizes(study=study, config=config)
        except ServiceError as exc:
            if form.is_bound:
                form.add_error(None, exc.message)
            sizes = {}
        warnings = quality_split_warnings(sizes) if sizes else []
        if form.is_bound and form.is_valid():
            try:
                job = quality_training_start(study=study, user=request.user, config=config)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                for warning in warnings:
                    messages.warning(request, warning)
                jobs_report(request, job, f"{study}: Q training job")
                return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[job.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "study": study, "sizes": sizes, "warnings": warnings,
                   "title": f"Train Q on {study}", "opts": self.model._meta,
                   "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
        return render(request, "admin/training/quality_train.html", context)

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
    """Batches are numbered from 1 here, in the API and in exports (the stored index is 0-based)."""

    list_display = ("study", "number", "external_id")
    list_filter = ("study",)
    list_select_related = ("study",)

    @admin.display(description="batch", ordering="index")
    def number(self, obj):
        return obj.number
