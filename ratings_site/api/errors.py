from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ratings_site.core.errors import ServiceError


def exception_handler(exc, context):
    """Broken rules become 4xx answers with the reason; never a 500."""
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": " ".join(exc.messages), "code": "invalid"}, status=400)
    return drf_exception_handler(exc, context)
