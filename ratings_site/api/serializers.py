from rest_framework import serializers

from ratings_site.jobs.models import Job
from ratings_site.labels.models import Label
from ratings_site.studies.models import Study


class StudySerializer(serializers.ModelSerializer):
    sources = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Study
        fields = [
            "id", "name", "status", "provider", "provider_environment", "sources", "metadata_filter", "strata",
            "sample_size", "seed", "n_batches", "raters_per_batch", "viewing_seconds", "answer_grace_seconds",
            "launched_at", "completed_at", "agreement",
        ]


class BatchProgressSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    ratings_done = serializers.IntegerField()
    ratings_needed = serializers.IntegerField()
    submitted = serializers.IntegerField()
    active = serializers.IntegerField()


class LabelSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="image.source.slug")
    image_path = serializers.CharField(source="image.file.name")

    class Meta:
        model = Label
        fields = ["id", "study", "image", "image_path", "source", "mean", "std", "n", "low_n", "computed_at"]


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
