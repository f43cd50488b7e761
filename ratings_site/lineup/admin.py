from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from ratings_site.core.permissions import PermissionActionsMixin, admin_action
from ratings_site.core.errors import ServiceError

from .forms import LineupImportForm
from .models import Candidate, Lineup, LineupStudy, TargetExample, Vote
from .results import lineup_results, results_text
from .services import lineup_study_import
from .table import study_table_fill

IMPORT_PERMISSION = "studies.add_study"


class TargetExampleInline(admin.TabularInline):
    model = TargetExample
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "value", "image")


@admin.register(LineupStudy)
class LineupStudyAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("study", "status", "models", "lineups", "votes", "simulated", "imported_at")
    list_select_related = ("study",)
    readonly_fields = ("study_link", "run_folder", "model_names", "reference_expression", "reference_lighting", "seed",
                       "provenance", "simulated", "imported_at", "results")
    fields = readonly_fields
    inlines = [TargetExampleInline]
    actions = ["fill_table"]

    def has_add_permission(self, request):
        return False  # studies come from a comparison run: "Import from a comparison run"

    @admin.display(description="status")
    def status(self, obj):
        return obj.study.status

    @admin.display(description="models")
    def models(self, obj):
        return ", ".join(obj.model_names)

    @admin.display(description="lineups")
    def lineups(self, obj):
        return obj.lineups.count()

    @admin.display(description="votes")
    def votes(self, obj):
        return Vote.objects.filter(lineup__lineup_study=obj).count()

    @admin.display(description="study")
    def study_link(self, obj):
        return format_html('<a href="{}">{}</a> ({}; launch, pause and invitations there)',
                           reverse("admin:studies_study_change", args=[obj.pk]), obj.study, obj.study.status)

    @admin.display(description="results (counted votes: submitted and verified)")
    def results(self, obj):
        try:
            r = lineup_results(obj)
        except ServiceError as exc:
            return exc.message
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>[{}, {}]</td><td>{}</td><td>{}</td></tr>", (
            (m.model, f"{m.share:.1%}", f"{m.share_lo:.1%}", f"{m.share_hi:.1%}", m.votes,
             "–" if m.mean_q is None else f"{m.mean_q:.3f}") for m in r.models))
        return format_html(
            '<table id="human-preference"><tr><th>model</th><th>human preference</th><th>95% interval</th>'
            "<th>votes</th><th>mean Q</th></tr>{}</table><pre>{}</pre>", rows, results_text(r))

    @admin_action(permission="lineup.change_lineupstudy",
                  description="Fill the human-preference column into the comparison table")
    def fill_table(self, request, queryset):
        for lineup_study in queryset.select_related("study"):
            try:
                _, written = study_table_fill(lineup_study=lineup_study)
            except ServiceError as exc:
                self.message_user(request, f"{lineup_study.study}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"{lineup_study.study}: wrote {', '.join(str(p) for p in written)}", messages.SUCCESS)

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_view), name="lineup_lineupstudy_import")] + super().get_urls()

    def import_view(self, request):
        if not request.user.has_perm(IMPORT_PERMISSION):
            messages.error(request, "You may not create studies.")
            return redirect("admin:lineup_lineupstudy_changelist")
        form = LineupImportForm(request.POST) if request.method == "POST" else LineupImportForm()
        if form.is_bound and form.is_valid():
            d = form.cleaned_data
            models = [m.strip() for m in d["models"].split(",") if m.strip()] or None
            try:
                lineup_study = lineup_study_import(
                    folder=d["folder"], name=d["name"], subjects=d["subjects"], models=models, seed=d["seed"],
                    evalset=d["evalset"] or None, results=d["results"] or None, raters_per_batch=d["raters_per_batch"],
                    lineups_per_batch=d["lineups_per_batch"], provider=d["provider"],
                    environment=d["environment"] or None, viewing_seconds=d["viewing_seconds"], user=request.user,
                )
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Imported {lineup_study.lineups.count()} lineups as the draft study "
                                          f"'{lineup_study.study}'; launch it from Studies.")
                return redirect(reverse("admin:lineup_lineupstudy_change", args=[lineup_study.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.model._meta,
                   "title": "Import a lineup study from a comparison run"}
        return render(request, "admin/lineup/lineupstudy/import.html", context)


@admin.register(Lineup)
class LineupAdmin(admin.ModelAdmin):
    list_display = ("__str__", "lineup_study", "batch", "pair_id")
    list_filter = ("lineup_study",)
    readonly_fields = [f.name for f in Lineup._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("assignment", "lineup", "model", "screen_position", "response_ms", "created_at")
    list_filter = ("lineup__lineup_study",)
    readonly_fields = [f.name for f in Vote._meta.fields]

    @admin.display(description="model")
    def model(self, obj):
        return obj.candidate.model_name

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(Candidate, admin.ModelAdmin)
