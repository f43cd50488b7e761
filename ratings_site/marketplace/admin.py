from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ratings_site.core.errors import ServiceError
from ratings_site.core.permissions import PermissionActionsMixin, admin_action

from .common import LAUNCH_PRODUCTION_PERMISSION
from .models import MarketplaceSettings, MarketplaceSubmission, MoneyAction, PublishedTask
from .money import PERMISSIONS
from .services import (
    cost_sheet,
    hits_close,
    launch_check,
    production_launch_confirm,
    publish_resume,
    submission_approve,
    submission_block,
    submission_bonus,
    submission_reject,
    submissions_sync,
)


def _each(request, items, label, action):
    """Run `action` per item; every failure is a clear message, never a traceback."""
    for item in items:
        try:
            outcome = action(item)
        except ServiceError as exc:
            messages.error(request, f"{label(item)}: {exc.message}")
        else:
            if outcome:
                messages.success(request, f"{label(item)}: {outcome}")


def cost_breakdown_html(obj):
    if not obj or not obj.pk:
        return "Save to see the cost."
    try:
        sheet = cost_sheet(obj)
    except Exception as exc:  # a half-filled form still renders, with the reason
        return format_html('<span style="color:#b00">{}</span>', getattr(exc, "message", str(exc)))
    rows = "".join(format_html("<tr><td>{}</td><td>{}</td></tr>", line.label, line.amount) for line in sheet.lines)
    cap = "no cap" if sheet.budget_cap is None else f"{sheet.budget_cap} (left after launch: {sheet.budget_cap - sheet.committed - sheet.pending})"
    return format_html(
        "<table>{}</table><p>Already committed: {}; still to publish: {}; budget cap: {}.</p>",
        mark_safe(rows), sheet.committed, sheet.pending, cap,
    )


class MarketplaceSettingsInline(admin.StackedInline):
    """For the study page: `StudyAdmin.inlines += [MarketplaceSettingsInline]`."""

    model = MarketplaceSettings
    extra = 0
    max_num = 1
    fields = ("title", "reward_per_batch", "budget_cap", "qualifications", "on_gold_failure", "cost_breakdown",
              "production_confirmed_by", "production_confirmed_at")
    readonly_fields = ("cost_breakdown", "production_confirmed_by", "production_confirmed_at")

    @admin.display(description="exact cost before launch")
    def cost_breakdown(self, obj):
        return cost_breakdown_html(obj)


@admin.register(MarketplaceSettings)
class MarketplaceSettingsAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("study", "provider", "environment", "reward_per_batch", "budget_cap", "launch_cost", "production_confirmed_at")
    list_select_related = ("study",)
    raw_id_fields = ("study",)
    readonly_fields = ("cost_breakdown", "production_confirmed_by", "production_confirmed_at", "production_confirmed_cost")
    actions = ["check_launch", "confirm_production", "publish", "sync", "close"]
    fieldsets = (
        (None, {"fields": ("study", "title", "description", "keywords")}),
        ("Money", {"fields": ("reward_per_batch", "budget_cap", "bonus_amount", "bonus_reason", "cost_breakdown")}),
        ("Workers", {"fields": ("qualifications", "lifetime_hours", "auto_approval_hours", "duration_margin_minutes",
                                "on_gold_failure", "rejection_feedback", "unverified_grace_minutes")}),
        ("Prolific", {"fields": ("prolific_completion_code", "prolific_project_id", "prolific_workspace_id",
                                 "prolific_block_group_id", "prolific_fee_rate")}),
        ("Production gate", {"fields": ("production_confirmed_by", "production_confirmed_at", "production_confirmed_cost")}),
    )

    @admin.display(description="provider")
    def provider(self, obj):
        return obj.study.provider

    @admin.display(description="environment")
    def environment(self, obj):
        return obj.study.provider_environment

    @admin.display(description="launch cost")
    def launch_cost(self, obj):
        try:
            return f"${cost_sheet(obj).total}"
        except (ServiceError, Exception) as exc:  # a half-filled form must still list
            return f"- ({getattr(exc, 'message', exc)})"

    @admin.display(description="exact cost before launch")
    def cost_breakdown(self, obj):
        return cost_breakdown_html(obj)

    @admin_action(permission="marketplace.view_marketplacesettings",
                  description="Check launch (credentials, HTTPS, reward, budget, balance)")
    def check_launch(self, request, queryset):
        _report_problems(request, queryset, launch_check, messages.ERROR,
                         lambda m: f"ready to launch at ${cost_sheet(m).total}.")

    @admin_action(permission=LAUNCH_PRODUCTION_PERMISSION, description="Confirm production launch at the cost shown")
    def confirm_production(self, request, queryset):
        _each(request, queryset.select_related("study"), lambda m: m.study,
              lambda m: f"production launch confirmed at ${production_launch_confirm(market=m, user=request.user).production_confirmed_cost}.")

    @admin_action(permission=PERMISSIONS[MoneyAction.Action.LAUNCH], description="Publish / resume publishing")
    def publish(self, request, queryset):
        _each(request, queryset.select_related("study"), lambda m: m.study,
              lambda m: publish_resume(study=m.study) or "published.")

    @admin_action(permission="marketplace.change_marketplacesubmission",
                  description="Sync submissions (verify, approve or reject)")
    def sync(self, request, queryset):
        for market in queryset.select_related("study"):
            try:
                report = submissions_sync(study=market.study)
            except ServiceError as exc:
                messages.error(request, f"{market.study}: {exc.message}")
                continue
            for message in report.messages:
                messages.warning(request, f"{market.study}: {message}")
            messages.success(request, f"{market.study}: {report.confirmed} confirmed, {report.rejected} rejected, "
                                      f"{report.held} held for review, {report.freed} slots freed.")

    @admin_action(permission=PERMISSIONS[MoneyAction.Action.LAUNCH], description="Expire and delete HITs (after review)")
    def close(self, request, queryset):
        _report_problems(request, queryset, hits_close, messages.WARNING, lambda m: "HITs expired and deleted.")


@admin.register(PublishedTask)
class PublishedTaskAdmin(admin.ModelAdmin):
    list_display = ("study", "batch", "provider", "environment", "external_id", "status", "cost", "message", "updated_at")
    list_filter = ("provider", "environment", "status")
    list_select_related = ("study", "batch")
    search_fields = ("external_id", "request_token")
    readonly_fields = [f.name for f in PublishedTask._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(MarketplaceSubmission)
class MarketplaceSubmissionAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("study", "provider", "environment", "external_assignment_id", "worker_id", "verification",
                    "verification_reason", "payment", "gold", "bonus_paid", "blocked", "message")
    list_filter = ("provider", "environment", "verification", "payment", "blocked")
    list_select_related = ("study",)
    search_fields = ("external_assignment_id", "worker_id")
    readonly_fields = [f.name for f in MarketplaceSubmission._meta.fields]
    actions = ["approve", "reject", "send_bonus", "block"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="gold passed")
    def gold(self, obj):
        return f"{obj.gold_passed}/{obj.gold_checks}"

    def _decide(self, request, queryset, decide, done):
        _each(request, queryset.select_related("study", "task"), str,
              lambda sub: decide(submission=sub, actor=request.user) or done)

    @admin_action(permission=PERMISSIONS[MoneyAction.Action.APPROVE], description="Approve (pay)")
    def approve(self, request, queryset):
        self._decide(request, queryset, submission_approve, "approved.")

    @admin_action(permission=PERMISSIONS[MoneyAction.Action.REJECT], description="Reject with the study's feedback")
    def reject(self, request, queryset):
        self._decide(request, queryset, submission_reject, "rejected.")

    @admin_action(permission=PERMISSIONS[MoneyAction.Action.BONUS], description="Send the study's default bonus")
    def send_bonus(self, request, queryset):
        self._decide(request, queryset, lambda **kw: f"bonus sent (cost {submission_bonus(**kw)}).", "")

    @admin_action(permission=PERMISSIONS[MoneyAction.Action.BLOCK], description="Block the worker")
    def block(self, request, queryset):
        self._decide(request, queryset, submission_block, "worker blocked.")


@admin.register(MoneyAction)
class MoneyActionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "study", "submission", "amount", "actor", "via", "outcome", "response")
    list_filter = ("action", "outcome", "provider", "environment")
    list_select_related = ("study", "submission", "actor")
    readonly_fields = [f.name for f in MoneyAction._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # an audit trail


def _report_problems(request, queryset, check, level, ok_message) -> None:
    """Run `check(study=...)` for each market; show its problems, or the ok message."""
    for market in queryset.select_related("study"):
        try:
            problems = check(study=market.study)
        except ServiceError as exc:
            problems = [exc.message]
        for problem in problems:
            messages.add_message(request, level, f"{market.study}: {problem}")
        if not problems:
            messages.success(request, f"{market.study}: {ok_message(market)}")
