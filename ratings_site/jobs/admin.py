from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import PermissionActionsMixin, admin_action

from .models import Job
from .resume import RESUMABLE_STATES, job_live, job_resume
from .services import job_cancel, job_waiting_for_broker


def jobs_report(request, job: Job, what: str) -> None:
    """Tell the person who started a job what happened to it: queued, or waiting for a task
    queue that could not be reached (and will be sent later)."""
    if job_waiting_for_broker(job):
        messages.warning(request, f"{what} #{job.pk}: {job.message}")
    else:
        messages.info(request, f"{what} #{job.pk} queued; follow it under Jobs.")


@admin.register(Job)
class JobAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "study", "status", "progress_bar", "message", "created_by", "created_at", "finished_at")
    list_filter = ("kind", "status")
    list_select_related = ("study", "created_by")
    readonly_fields = [f.name for f in Job._meta.fields] + ["progress_bar", "download", "plots", "latest_stats"]
    actions = ["cancel", "resume"]
    change_form_template = "admin/jobs/job/change_form.html"

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        own = [
            path("<int:pk>/live.json", self.admin_site.admin_view(self.live_view), name="jobs_job_live"),
            path("<int:pk>/resume/", self.admin_site.admin_view(self.resume_view), name="jobs_job_resume"),
        ]
        return own + super().get_urls()

    def live_view(self, request, pk):
        job = get_object_or_404(Job, pk=pk)
        if not self.has_view_permission(request, job):
            raise Http404
        return JsonResponse(job_live(job))

    def resume_view(self, request, pk):
        if request.method != "POST":
            return HttpResponse("Use the Resume button on the job page (POST).", status=405)
        job = get_object_or_404(Job, pk=pk)
        self._resume(request, [job])
        return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = Job.objects.filter(pk=object_id).first()
        extra_context = dict(extra_context or {})
        if job is not None:
            extra_context.update({
                "job_obj": job, "live_url": reverse("admin:jobs_job_live", args=[job.pk]),
                "refresh_ms": getattr(settings, "ADMIN_LIVE_REFRESH_MS", 3000),
                "resumable": job.status in RESUMABLE_STATES and request.user.has_perm("jobs.change_job"),
            })
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    @admin.display(description="progress")
    def progress_bar(self, obj):
        return format_html(
            '<progress id="job-progress" value="{}" max="{}"></progress> <span id="job-progress-text">{} / {}</span>',
            obj.progress_done, max(obj.progress_total, 1), obj.progress_done, obj.progress_total,
        )

    @admin.display(description="loss and metric plots")
    def plots(self, obj):
        from ratings_site.training.admin import job_plots_html

        return job_plots_html(obj)

    @admin.display(description="latest statistics")
    def latest_stats(self, obj):
        latest = (obj.result or {}).get("latest") or {}
        rows = "".join(format_html("<tr><td>{}</td><td>{}</td></tr>", k, round(v, 4) if isinstance(v, float) else v)
                       for k, v in sorted(latest.items()))
        return format_html('<table id="job-latest">{}</table>', mark_safe(rows)) if rows else "-"

    @admin.display(description="artifact")
    def download(self, obj):
        if not obj.artifact:
            return "-"
        return format_html('<a href="{}">{}</a>', obj.artifact.url, obj.artifact.name)

    @admin_action(permission="jobs.change_job", description="Cancel selected jobs")
    def cancel(self, request, queryset):
        for job in queryset:
            job_cancel(job=job)
        messages.info(request, "Cancellation requested.")

    def _resume(self, request, jobs):
        if not request.user.has_perm("jobs.change_job"):
            messages.error(request, "You do not have permission to resume jobs.")
            return
        for job in jobs:
            try:
                job_resume(job=job)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"Job #{job.pk} queued again; it continues from where it stopped.")

    @admin_action(permission="jobs.change_job", description="Resume selected failed or cancelled jobs")
    def resume(self, request, queryset):
        self._resume(request, list(queryset))
