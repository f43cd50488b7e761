from rest_framework import serializers

from ratings_site.jobs.models import Job
from ratings_site.labels.models import Label
from ratings_site.studies.models import Study


class StudySerializer(serializers.ModelSerializer):
    sources = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    progress = serializers.SerializerMethodField(help_text="Raters submitted and needed, ratings done and needed, labels.")

    class Meta:
        model = Study
        fields = [
            "id", "name", "status", "provider", "provider_environment", "sources", "metadata_filter", "strata",
            "sample_size", "seed", "n_batches", "raters_per_batch", "viewing_seconds", "answer_grace_seconds",
            "launched_at", "completed_at", "agreement", "progress",
        ]

    def get_progress(self, study) -> dict:
        from ratings_site.studies.selectors import study_live

        live = study_live(study)
        return {k: live[k] for k in ("raters_submitted", "raters_needed", "ratings_done", "ratings_needed")} | {
            "labels": study.labels.count()}


class StudyFromImagesSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    images = serializers.ListField(child=serializers.FileField(), allow_empty=False, help_text="Image files (multipart).")
    source = serializers.SlugField(default="api-upload", help_text="Source the new images are filed under.")
    n_batches = serializers.IntegerField(min_value=1, default=1)
    raters_per_batch = serializers.IntegerField(min_value=1, default=3)
    viewing_seconds = serializers.IntegerField(min_value=1, default=60)
    answer_grace_seconds = serializers.IntegerField(min_value=0, default=60)
    instructions = serializers.CharField(required=False)
    consent_statement = serializers.CharField(required=False)
    pay_description = serializers.CharField(required=False, allow_blank=True, max_length=200)


class StudyCreatedSerializer(serializers.Serializer):
    study = StudySerializer()
    files = serializers.ListField(child=serializers.DictField())


class StudyLaunchedSerializer(StudySerializer):
    invitation_url = serializers.CharField(allow_null=True, help_text="Self-hosted studies: the link to send raters.")

    class Meta(StudySerializer.Meta):
        fields = StudySerializer.Meta.fields + ["invitation_url"]


class BatchProgressSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="The batch's number, from 1, as in the admin and exports.")
    ratings_done = serializers.IntegerField()
    ratings_needed = serializers.IntegerField()
    submitted = serializers.IntegerField()
    active = serializers.IntegerField()


class LabelSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="image.source.slug")
    image_path = serializers.CharField(source="image.file.name")
    original_name = serializers.CharField(source="image.original_name")
    n_raters = serializers.IntegerField(source="n", help_text="Raters whose rating counts (the export's n_raters).")

    class Meta:
        model = Label
        fields = ["id", "study", "image", "original_name", "image_path", "source", "mean", "std", "n", "n_raters", "low_n",
                  "computed_at"]


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "parquet"], default="csv")


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "kind", "status", "study", "params", "progress_done", "progress_total", "message", "result",
                  "error", "created_at", "started_at", "finished_at"]


class NextItemSerializer(serializers.Serializer):
    done = serializers.BooleanField()
    item = serializers.IntegerField(required=False)
    position = serializers.IntegerField(required=False)
    total = serializers.IntegerField(required=False)
    image_url = serializers.CharField(required=False)
    view_seconds_left = serializers.FloatField(required=False)
    answer_seconds_left = serializers.FloatField(required=False)
    completion_code = serializers.CharField(required=False)


class RatingInSerializer(serializers.Serializer):
    # Shape only; the service checks the range and says why, in one place.
    item = serializers.JSONField()
    score = serializers.JSONField()


class RatingOutSerializer(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    score = serializers.IntegerField()
    created = serializers.BooleanField()
    next = NextItemSerializer(
        allow_null=True, required=False,
        help_text="The next item, when the server could serve it at once; null: ask GET next/.",
    )
