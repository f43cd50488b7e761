"""The researcher's decisions on a marketplace submission, over the API: the same services
(and so the same permission checks and audit rows) as the admin's actions."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from ratings_site.api.permissions import has_perm

from .models import MarketplaceSubmission, MoneyAction
from .money import PERMISSIONS
from .services import submission_approve, submission_block, submission_bonus, submission_reject


class DecisionRequest(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, required=False,
                                      help_text="Bonus only; the study's default bonus when left out.")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                   help_text="Feedback (reject), reason (bonus, block); the study's default when left out.")


class MoneyActionSerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField()

    class Meta:
        model = MoneyAction
        fields = ["id", "action", "study", "submission", "provider", "environment", "amount", "actor", "via", "detail",
                  "outcome", "response", "created_at", "finished_at"]


def _decide(decision, submission, actor, data):
    reason = data.get("reason") or ""
    if decision == MoneyAction.Action.APPROVE:
        submission_approve(submission=submission, actor=actor, via="api")
    elif decision == MoneyAction.Action.REJECT:
        submission_reject(submission=submission, actor=actor, via="api", feedback=reason)
    elif decision == MoneyAction.Action.BONUS:
        submission_bonus(submission=submission, actor=actor, via="api", amount=data.get("amount"), reason=reason)
    else:
        kwargs = {"reason": reason} if reason else {}
        submission_block(submission=submission, actor=actor, via="api", **kwargs)


def decision_view(decision: str):
    class SubmissionDecision(APIView):
        permission_classes = [has_perm(PERMISSIONS[decision])]

        @extend_schema(request=DecisionRequest, responses={200: MoneyActionSerializer},
                       operation_id=f"marketplace_submission_{decision}")
        def post(self, request, pk):
            form = DecisionRequest(data=request.data)
            form.is_valid(raise_exception=True)
            submission = get_object_or_404(MarketplaceSubmission.objects.select_related("study", "task"), pk=pk)
            _decide(decision, submission, request.user, form.validated_data)
            row = MoneyAction.objects.filter(submission=submission, action=decision).order_by("-pk").first()
            return Response(MoneyActionSerializer(row).data)

    SubmissionDecision.__name__ = f"Submission{decision.title()}"
    return SubmissionDecision.as_view()
