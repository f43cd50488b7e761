"""Thin API views: check the input's shape, call one service, format the output."""
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ratings_site.crowd.services import invitation_open_ensure
from ratings_site.jobs.models import Job
from ratings_site.labels.models import Label
from ratings_site.labels.services import export_job_start
from ratings_site.studies.models import Study
from ratings_site.studies.fast_rating import item_next_fast, rating_insert_fast
from ratings_site.studies.from_images import study_create_from_images
from ratings_site.studies.selectors import batches_progress
from ratings_site.studies.services import (
    assignment_access,
    assignment_check_consented,
    assignment_submit,
    item_id_parse,
    item_next,
    rating_submit,
    score_parse,
    study_launch,
    study_pause,
)

from . import serializers as s
from .permissions import has_perm


class StudyList(generics.ListAPIView):
    queryset = Study.objects.prefetch_related("sources").order_by("-created_at")
    serializer_class = s.StudySerializer
    permission_classes = [has_perm("studies.view_study")]
    filterset_fields = ["status", "provider"]


class StudyDetail(generics.RetrieveAPIView):
    queryset = Study.objects.prefetch_related("sources")
    serializer_class = s.StudySerializer
    permission_classes = [has_perm("studies.view_study")]


class StudyFromImages(APIView):
    """Create a draft study from uploaded images: they are imported (duplicates reused) and the
    study's sampling rule selects exactly them. Launch it next."""

    permission_classes = [has_perm("studies.add_study")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": s.StudyFromImagesSerializer}, responses={201: s.StudyCreatedSerializer})
    def post(self, request):
        form = s.StudyFromImagesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        files = [(f.name, f.read()) for f in data.pop("images")]
        study, report = study_create_from_images(name=data.pop("name"), files=files, source_slug=data.pop("source"),
                                                 user=request.user, **data)
        return Response({"study": s.StudySerializer(study).data, "files": report}, status=201)


class StudyLaunch(APIView):
    permission_classes = [has_perm("studies.launch_study")]

    @extend_schema(request=None, responses=s.StudyLaunchedSerializer)
    def post(self, request, pk):
        study = study_launch(study=get_object_or_404(Study, pk=pk))
        link = None
        if study.provider == Study.Provider.SELF_HOSTED:
            invitation = invitation_open_ensure(study=study)
            link = request.build_absolute_uri(reverse("rating:invitation", args=[invitation.token]))
        return Response({**s.StudySerializer(study).data, "invitation_url": link})


class StudyPause(APIView):
    permission_classes = [has_perm("studies.launch_study")]

    @extend_schema(request=None, responses=s.StudySerializer)
    def post(self, request, pk):
        study = study_pause(study=get_object_or_404(Study, pk=pk))
        return Response(s.StudySerializer(study).data)


class StudyAdaptive(APIView):
    """An adaptive study's live progress: ratings spent, images meeting the stopping rule,
    raters per image, projected cost to finish (`?html=1` adds the admin page's block)."""

    permission_classes = [has_perm("studies.view_study")]

    @extend_schema(responses=dict)
    def get(self, request, pk):
        from ratings_site.studies.adaptive import adaptive_progress

        study = get_object_or_404(Study, pk=pk)
        if not study.adaptive:
            return Response({"detail": "This study has a fixed design.", "code": "not_adaptive"}, status=404)
        body = adaptive_progress(study)
        if request.query_params.get("html"):
            from ratings_site.studies.admin import adaptive_progress_html

            body["html"] = adaptive_progress_html(study)
        return Response(body)


class StudyBatches(APIView):
    permission_classes = [has_perm("studies.view_study")]

    @extend_schema(responses=s.BatchProgressSerializer(many=True))
    def get(self, request, pk):
        rows = batches_progress(get_object_or_404(Study, pk=pk))
        return Response(s.BatchProgressSerializer(rows, many=True).data)


class LabelList(generics.ListAPIView):
    queryset = Label.objects.select_related("image__source").order_by("study_id", "image_id")
    serializer_class = s.LabelSerializer
    permission_classes = [has_perm("labels.view_label")]
    filterset_fields = {"study": ["exact"], "image__source__slug": ["exact"], "low_n": ["exact"], "n": ["gte", "lte"]}


class StudyExport(APIView):
    permission_classes = [has_perm("studies.export_labels")]

    @extend_schema(request=s.ExportRequestSerializer, responses={202: s.JobSerializer})
    def post(self, request, pk):
        form = s.ExportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        job = export_job_start(study=get_object_or_404(Study, pk=pk), fmt=form.validated_data["format"], user=request.user)
        return Response(s.JobSerializer(job).data, status=202)


class JobDetail(generics.RetrieveAPIView):
    queryset = Job.objects.all()
    serializer_class = s.JobSerializer
    permission_classes = [has_perm("jobs.view_job")]


class JobDownload(APIView):
    permission_classes = [has_perm("studies.export_labels")]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk):
        job = get_object_or_404(Job, pk=pk)
        if job.status != Job.Status.SUCCEEDED or not job.artifact:
            return Response({"detail": f"The job is {job.status}; nothing to download yet.", "code": "not_ready"}, status=409)
        return FileResponse(job.artifact.open("rb"), as_attachment=True, filename=job.artifact.name.rsplit("/", 1)[-1])


class _RaterEndpoint(APIView):
    """Rating endpoints: the assignment's secret token in the URL is the credential."""

    authentication_classes = []
    permission_classes = [AllowAny]


class RateNext(_RaterEndpoint):
    @extend_schema(responses=s.NextItemSerializer)
    def get(self, request, token):
        fast = item_next_fast(token=token)
        if fast is not None:
            return Response({"done": False, "image_url": reverse("rating:image", args=[token, fast["item"]]), **fast})
        assignment = assignment_access(token=token)
        if assignment.status == assignment.Status.ACTIVE and not hasattr(assignment.batch.study, "lineup"):
            assignment_check_consented(assignment)  # (a lineup study has its own start page)
        nxt = item_next(assignment=assignment)
        if nxt is None:
            assignment = assignment_submit(assignment=assignment)
            return Response({"done": True, "completion_code": assignment.completion_code})
        return Response(
            {
                "done": False, "item": nxt.item.pk, "position": nxt.position, "total": nxt.total,
                "image_url": reverse("rating:image", args=[token, nxt.item.pk]),
                "view_seconds_left": nxt.view_seconds_left, "answer_seconds_left": nxt.answer_seconds_left,
            }
        )


class RateSubmit(_RaterEndpoint):
    @extend_schema(request=s.RatingInSerializer, responses={201: s.RatingOutSerializer, 200: s.RatingOutSerializer})
    def post(self, request, token):
        form = s.RatingInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        score, item = score_parse(form.validated_data["score"]), item_id_parse(form.validated_data["item"])
        if rating_insert_fast(token=token, item_id=item, score=score):
            # The next item rides along: one round trip per image instead of two.
            return Response({"item": item, "score": score, "created": True, "next": _next_fast(token)}, status=201)
        assignment = assignment_access(token=token)
        rating, created = rating_submit(assignment=assignment, item_id=item, score=score)
        body = {"item": rating.item_id, "score": rating.score, "created": created, "next": None}
        return Response(body, status=201 if created else 200)


def _next_fast(token: str) -> dict | None:
    """The next item on the one-statement path, or None: the client then asks GET next/."""
    fast = item_next_fast(token=token)
    if fast is None:
        return None
    return {"done": False, "image_url": reverse("rating:image", args=[token, fast["item"]]), **fast}
