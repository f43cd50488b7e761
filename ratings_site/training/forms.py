import json

from django import forms

from ratings_site.jobs.models import Job

from .models import QualityModelVersion


class LeganTrainForm(forms.Form):
    manifest = forms.CharField(help_text="Path of the training manifest on the GPU worker (python -m legan.data.build_manifests).")
    expressions = forms.CharField(help_text="Comma-separated, in the manifest's names, e.g. neutral,smile,surprise,squint,disgust,scream")
    lightings = forms.CharField(help_text="Comma-separated lighting classes.")
    options = forms.CharField(widget=forms.Textarea, required=False, initial="{}",
                              help_text='Other TrainConfig options as JSON, e.g. {"epochs": 100, "model": {"arch": "stargan"}}')
    after_job = forms.ModelChoiceField(queryset=Job.objects.filter(kind=Job.Kind.TRAIN_Q).exclude(status__in=["failed", "cancelled"]),
                                       required=False, help_text="Start when this Q job has made its model.")
    quality_version = forms.ModelChoiceField(queryset=QualityModelVersion.objects.all(), required=False,
                                             help_text="Or train on this Q version (default: the current one).")
    evaluate_pairs = forms.CharField(required=False, help_text="Then evaluate the trained version on this evaluation set "
                                     "(its folder or pairs_<split>.csv, on the GPU worker); empty: no evaluation.")

    def clean_options(self):
        try:
            value = json.loads(self.cleaned_data["options"] or "{}")
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}")
        if not isinstance(value, dict):
            raise forms.ValidationError("A JSON object of options.")
        return value

    def config(self) -> dict:
        data = self.cleaned_data
        split = lambda text: [p.strip() for p in text.split(",") if p.strip()]  # noqa: E731
        return {**data["options"], "manifest": data["manifest"], "expressions": split(data["expressions"]),
                "lightings": split(data["lightings"])}


class LeganEvaluateForm(forms.Form):
    pairs_manifest = forms.CharField(help_text="The evaluation set on the GPU worker: its folder (test split) or its pairs_<split>.csv.")
