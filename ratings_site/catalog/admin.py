from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ratings_site.core.permissions import PermissionActionsMixin

from .forms import ImportForm
from .import_roots import import_roots
from .models import Image, ImportRun, Source
from .services import images_import_folder, images_import_manifest, images_import_zip


@admin.register(Source)
class SourceAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Image)
class ImageAdmin(PermissionActionsMixin, admin.ModelAdmin):
    list_display = ("id", "thumbnail", "original_name", "source", "width", "height", "subject", "created_at")
    list_filter = ("source",)
    search_fields = ("original_name", "sha256", "subject")
    list_select_related = ("source",)
    readonly_fields = ("sha256", "width", "height", "created_at", "thumbnail")
    change_list_template = "admin/catalog/image/change_list.html"

    @admin.display(description="image")
    def thumbnail(self, obj):
        return format_html('<img src="{}" width="64" height="64" style="object-fit:cover">', obj.file.url)

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_view), name="catalog_image_import")] + super().get_urls()

    def import_view(self, request):
        if not request.user.has_perm("catalog.add_image"):
            messages.error(request, "You may not import images.")
            return redirect("admin:catalog_image_changelist")
        form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                if data["folder"]:
                    outcome = images_import_folder(
                        folder=data["folder"], source=data["source"], user=request.user, roots=import_roots()
                    )
                elif data["archive"]:
                    outcome = images_import_zip(
                        archive=data["archive"], source=data["source"], origin=data["archive"].name, user=request.user
                    )
                else:
                    outcome = images_import_manifest(manifest=data["manifest"], user=request.user, roots=import_roots())
            except ValidationError as exc:
                form.add_error(None, exc.messages[0])
            else:
                run = outcome.run
                level = messages.WARNING if run.failed else messages.SUCCESS
                messages.add_message(
                    request, level, f"Imported {run.imported}, duplicates {run.duplicates}, failed {run.failed}."
                )
                return redirect(reverse("admin:catalog_importrun_change", args=[run.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "title": "Import images", "opts": self.model._meta}
        return render(request, "admin/catalog/image/import.html", context)


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "origin", "imported", "duplicates", "failed", "created_by")
    readonly_fields = ("kind", "origin", "default_source", "created_by", "created_at", "imported", "duplicates", "failed", "report_table")
    exclude = ("report",)
    list_select_related = ("created_by",)

    def has_add_permission(self, request):
        return False

    @admin.display(description="per file")
    def report_table(self, obj):
        rows = "".join(
            format_html("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", r["name"], r["status"], r.get("reason", ""))
            for r in obj.report
        )
        return format_html("<table><tr><th>file</th><th>status</th><th>reason</th></tr>{}</table>", mark_safe(rows))
