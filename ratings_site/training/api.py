from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ratings_site.api.permissions import has_perm
from ratings_site.api.serializers import JobSerializer
from ratings_site.studies.models import Study

from ratings_site.jobs.models import Job

from .evaluate_jobs import legan_evaluation_start
from .legan_jobs import legan_edit_upload, legan_training_start
from .models import LeganModelVersion, QualityModelVersion
from .services import quality_score_upload, quality_scoring_start, quality_training_start

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def upload_size_check(value):
    """A face to score or edit, not an archive: refused before it is read."""
    if value.size > MAX_UPLOAD_BYTES:
        raise serializers.ValidationError(f"The image is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")


class QualityVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualityModelVersion
        fields = ["id", "number", "is_current", "study", "config", "metrics", "data_hash", "created_at"]


class TrainRequestSerializer(serializers.Serializer):
    study = serializers.PrimaryKeyRelatedField(queryset=Study.objects.all())
    config = serializers.DictField(required=False, default=dict)


class ScoreUploadSerializer(serializers.Serializer):
    image = serializers.FileField(validators=[upload_size_check])
    version = serializers.PrimaryKeyRelatedField(queryset=QualityModelVersion.objects.all(), required=False)


class ScoreResultSerializer(serializers.Serializer):
    score = serializers.FloatField()
    model_version = serializers.IntegerField()


class ScoreStudySerializer(serializers.Serializer):
    study = serializers.PrimaryKeyRelatedField(queryset=Study.objects.all())


class QualityTrain(APIView):
    permission_classes = [has_perm("training.start_training")]

    @extend_schema(request=TrainRequestSerializer, responses={202: JobSerializer})
    def post(self, request):
        form = TrainRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        job = quality_training_start(study=form.validated_data["study"], config=form.validated_data["config"], user=request.user)
        return Response(JobSerializer(job).data, status=202)


class QualityVersions(generics.ListAPIView):
    queryset = QualityModelVersion.objects.select_related("study")
    serializer_class = QualityVersionSerializer
    permission_classes = [has_perm("training.view_qualitymodelversion")]


class QualityScore(APIView):
    """Score an uploaded face image: aligned and landmark-masked the way raters saw faces."""

    permission_classes = [has_perm("training.score_images")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ScoreUploadSerializer}, responses=ScoreResultSerializer)
    def post(self, request):
        form = ScoreUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        score, version = quality_score_upload(data=form.validated_data["image"].read(), version=form.validated_data.get("version"))
        return Response({"score": score, "model_version": version.number})


class QualityScoreStudy(APIView):
    permission_classes = [has_perm("training.score_images")]

    @extend_schema(request=ScoreStudySerializer, responses={202: JobSerializer})
    def post(self, request, pk):
        form = ScoreStudySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        version = get_object_or_404(QualityModelVersion, pk=pk)
        job = quality_scoring_start(study=form.validated_data["study"], version=version, user=request.user)
        return Response(JobSerializer(job).data, status=202)


class LeganTrainSerializer(serializers.Serializer):
    config = serializers.DictField()
    quality_version = serializers.PrimaryKeyRelatedField(queryset=QualityModelVersion.objects.all(), required=False)
    after_job = serializers.PrimaryKeyRelatedField(queryset=Job.objects.all(), required=False)


class LeganVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeganModelVersion
        fields = ["id", "number", "is_current", "quality_version", "config", "metrics", "created_at"]


class LeganEditSerializer(serializers.Serializer):
    image = serializers.FileField(validators=[upload_size_check])
    expression = serializers.CharField()
    lighting = serializers.CharField()
    version = serializers.PrimaryKeyRelatedField(queryset=LeganModelVersion.objects.all(), required=False)


class LeganTrain(APIView):
    permission_classes = [has_perm("training.start_training")]

    @extend_schema(request=LeganTrainSerializer, responses={202: JobSerializer})
    def post(self, request):
        form = LeganTrainSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        job = legan_training_start(config=data["config"], quality_version=data.get("quality_version"),
                                   after_job=data.get("after_job"), user=request.user)
        return Response(JobSerializer(job).data, status=202)


class LeganEvaluateSerializer(serializers.Serializer):
    pairs_manifest = serializers.CharField(help_text="Evaluation set folder (test split) or its pairs_<split>.csv, on the GPU worker.")
    version = serializers.PrimaryKeyRelatedField(queryset=LeganModelVersion.objects.all(), required=False)
    after_job = serializers.PrimaryKeyRelatedField(queryset=Job.objects.all(), required=False,
                                                   help_text="A LEGAN training job: evaluate the version it makes.")


class LeganEvaluate(APIView):
    permission_classes = [has_perm("training.start_training")]

    @extend_schema(request=LeganEvaluateSerializer, responses={202: JobSerializer})
    def post(self, request):
        form = LeganEvaluateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        job = legan_evaluation_start(pairs_manifest=data["pairs_manifest"], version=data.get("version"),
                                     after_job=data.get("after_job"), user=request.user)
        return Response(JobSerializer(job).data, status=202)


class LeganVersions(generics.ListAPIView):
    queryset = LeganModelVersion.objects.all()
    serializer_class = LeganVersionSerializer
    permission_classes = [has_perm("training.view_leganmodelversion")]


class LeganEdit(APIView):
    """Edit an uploaded face to a target expression and lighting; answers a PNG."""

    permission_classes = [has_perm("training.view_leganmodelversion")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": LeganEditSerializer}, responses={(200, "image/png"): bytes})
    def post(self, request):
        form = LeganEditSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        png, version = legan_edit_upload(data=data["image"].read(), expression=data["expression"],
                                         lighting=data["lighting"], version=data.get("version"))
        response = HttpResponse(png, content_type="image/png")
        response["X-Model-Version"] = str(version.number)
        return response
