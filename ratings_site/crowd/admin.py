from django.contrib import admin
from django.template.loader import render_to_string

from .models import Invitation, Rater


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ("id", "provider", "environment", "external_id", "created_at")
    list_filter = ("provider", "environment")
    search_fields = ("external_id",)
    readonly_fields = ("evidence",)

    @admin.display(description="quality checks: gold items and deviation from the other raters")
    def evidence(self, obj):
        from ratings_site.labels.selectors import rater_evidence

        if not obj.pk:
            return "-"
        return render_to_string("admin/crowd/rater_evidence.html", {"evidence": rater_evidence(obj)})


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("token", "study", "kind", "cap", "uses", "label", "revoked", "created_at")
    list_filter = ("kind", "revoked")
    list_select_related = ("study",)
    readonly_fields = ("token", "uses")
