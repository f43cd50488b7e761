from django import forms
from django.conf import settings

from .models import Source


class ImportForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=Source.objects.all(), required=False, help_text="For folders and zips. A manifest names a source per row."
    )
    folder = forms.CharField(required=False, help_text="A folder on the server, inside one of the IMAGE_IMPORT_ROOTS.")
    archive = forms.FileField(required=False, help_text="A zip of images.")
    manifest = forms.CharField(
        required=False, help_text="Path of a CSV manifest on the server: columns path, source, optional subject and metadata."
    )

    def clean_archive(self):
        archive = self.cleaned_data.get("archive")
        maximum = settings.IMPORT_MAX_UPLOAD_BYTES
        if archive is not None and archive.size > maximum:
            raise forms.ValidationError(f"The archive is {archive.size} bytes; at most {maximum} bytes are accepted.")
        return archive

    def clean(self):
        data = super().clean()
        given = [k for k in ("folder", "archive", "manifest") if data.get(k)]
        if len(given) != 1:
            raise forms.ValidationError("Give exactly one of: a folder, a zip archive, or a manifest.")
        if given[0] in ("folder", "archive") and not data.get("source"):
            raise forms.ValidationError("Choose the source of these images.")
        return data
