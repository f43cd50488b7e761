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


class QualityTrainForm(forms.Form):
    """Train Q: the model's main options with their defaults (quality.config.TrainConfig),
    checked by the same validation the trainer runs, before anything is queued."""

    loss = forms.ChoiceField(help_text="hinge: the paper's stated margin intent; paper: equation 1 as printed; mse: plain regression.")
    epochs = forms.IntegerField(min_value=1)
    max_steps = forms.IntegerField(min_value=1, required=False, help_text="Overrides epochs when set (quick runs).")
    batch_size = forms.IntegerField(min_value=1)
    lr = forms.FloatField(label="learning rate")
    weight_decay = forms.FloatField(min_value=0)
    seed = forms.IntegerField()
    train_fraction = forms.FloatField(min_value=0, max_value=1)
    val_fraction = forms.FloatField(min_value=0, max_value=1)
    test_fraction = forms.FloatField(min_value=0, max_value=1)
    mirror = forms.BooleanField(required=False, help_text="Horizontal flips (the only augmentation, as in the paper).")
    options = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, initial="{}",
                              help_text='Any other TrainConfig option as JSON, e.g. {"warmup_steps": 50}.')

    def __init__(self, *args, **kwargs):
        from quality.config import TrainConfig
        from quality.losses import LOSSES

        super().__init__(*args, **kwargs)
        defaults = TrainConfig()
        self.fields["loss"].choices = [(name, name) for name in sorted(LOSSES)]
        for name in ("loss", "epochs", "max_steps", "batch_size", "lr", "weight_decay", "seed", "mirror"):
            self.fields[name].initial = getattr(defaults, name)
        for name, value in zip(("train_fraction", "val_fraction", "test_fraction"), defaults.split_fractions):
            self.fields[name].initial = value

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
        config = {**data.get("options", {})}
        for name in ("loss", "epochs", "batch_size", "lr", "weight_decay", "seed", "mirror"):
            config[name] = data[name]
        if data.get("max_steps"):
            config["max_steps"] = data["max_steps"]
        config["split_fractions"] = [data["train_fraction"], data["val_fraction"], data["test_fraction"]]
        return config

    def clean(self):
        from quality.config import ConfigError, TrainConfig

        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            TrainConfig.from_dict({**self.config(), "labels": "labels.csv"}).validate()
        except (ConfigError, TypeError, ValueError) as exc:
            raise forms.ValidationError(str(exc))
        return cleaned
