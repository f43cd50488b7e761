from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from ratings_site.core.permissions import PermissionActionsMixin, admin_action

from .models import Label, RaterExclusion, RaterStats
from .services import rater_exclusion_set

DISPLAY_DIGITS = 2  # the admin rounds for reading; exports and the API keep full precision


def _rounded(value, digits: int = DISPLAY_DIGITS):
    return "-" if value is None else f"{value:.{digits}f}"


class ComputedAdmin(admin.ModelAdmin):
    """Rows the platform computes: shown, never typed in."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Label)
class LabelAdmin(ComputedAdmin):
    list_display = ("image", "study", "mean_shown", "std_shown", "n", "low_n", "computed_at")
    list_filter = ("study", "low_n", "image__source")
    list_select_related = ("image", "study")
    raw_id_fields = ("image",)

    @admin.display(description="mean", ordering="mean")
    def mean_shown(self, obj):
        return _rounded(obj.mean)

    @admin.display(description="std", ordering="std")
    def std_shown(self, obj):
        return _rounded(obj.std)


@admin.register(RaterStats)
class RaterStatsAdmin(PermissionActionsMixin, ComputedAdmin):
    list_display = ("rater_link", "study", "n_ratings", "gold_passed", "gold_checks", "mad_shown", "flagged", "excluded",
                    "excluded_by_hand")
    list_filter = ("flagged", "excluded_by_hand", "excluded", "study")
    list_select_related = ("rater", "study")
    actions = ["exclude_from_labels", "include_in_labels"]

    @admin.display(description="rater", ordering="rater")
    def rater_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:crowd_rater_change", args=[obj.rater_id]), obj.rater)

    @admin.display(description="deviation from others", ordering="mad_from_others")
    def mad_shown(self, obj):
        return _rounded(obj.mad_from_others)

    def _decide(self, request, queryset, excluded: bool):
        for stats in queryset.select_related("study", "rater"):
            rater_exclusion_set(study=stats.study, rater=stats.rater, excluded=excluded, user=request.user,
                                reason=request.POST.get("reason", ""))
        verb = "excluded from" if excluded else "counted again in"
        messages.success(request, f"{queryset.count()} rater(s) {verb} the labels; the labels are being recomputed (see Jobs).")

    @admin_action(permission="labels.add_raterexclusion", description="Exclude from labels (recomputes labels; reversible)")
    def exclude_from_labels(self, request, queryset):
        self._decide(request, queryset, True)

    @admin_action(permission="labels.add_raterexclusion", description="Count in labels again (undo an exclusion)")
    def include_in_labels(self, request, queryset):
        self._decide(request, queryset, False)


@admin.register(RaterExclusion)
class RaterExclusionAdmin(ComputedAdmin):
    """The audit trail: read-only; decisions are made with the actions on rater stats."""

    list_display = ("decided_at", "study", "rater", "excluded", "decided_by", "reason")
    list_filter = ("excluded", "study")
    list_select_related = ("study", "rater", "decided_by")

    def has_delete_permission(self, request, obj=None):
        return False
