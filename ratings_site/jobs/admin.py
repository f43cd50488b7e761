from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ratings_site.core.permissions import PermissionActionsMixin, admin_action

from .models import Job
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
    actions = ["cancel"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="progress")
    def progress_bar(self, obj):
        return format_html(
            '<progress value="{}" max="{}"></progress> {} / {}',
            obj.progress_done, max(obj.progress_total, 1), obj.progress_done, obj.progress_total,
        )

    @admin.display(description="loss and metric plots")
    def plots(self, obj):
        from ratings_site.training.admin import job_plots_html

        return job_plots_html(obj)

    @admin.display(description="latest statistics")
    def latest_stats(self, obj):
        latest = (obj.result or {}).get("latest") or {}
        rows = "".join(format_html("<tr><td>{}</td><td>{}</td></tr>", k, v) for k, v in sorted(latest.items()))
        return format_html("<table>{}</table>", mark_safe(rows)) if rows else "-"

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
