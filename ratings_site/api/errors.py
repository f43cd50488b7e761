from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ratings_site.core.errors import ServiceError


DATA_OUT_OF_RANGE = "A value in the request is outside what the database can store (e.g. an integer beyond 2^63-1)."

NUL_IN_TEXT = "Text in the request contains a NUL character (\\u0000), which cannot be stored."


def exception_handler(exc, context):
    """Broken rules become 4xx answers with the reason; never a 500."""
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": " ".join(exc.messages), "code": "invalid"}, status=400)
    if isinstance(exc, ValueError) and "NUL (0x00)" in str(exc):
        # psycopg2 refuses text with a NUL character (found by the fuzzer in a JSON option).
        return Response({"detail": NUL_IN_TEXT, "code": "nul_character"}, status=400)
    if isinstance(exc, DataError):
        # A backstop: inputs are range-checked where they are read, but a value the database
        # cannot hold (an integer beyond bigint, a NUL in text) is the client's error, not ours.
        return Response({"detail": DATA_OUT_OF_RANGE, "code": "out_of_range"}, status=400)
    return drf_exception_handler(exc, context)
