"""The OpenAPI schema describes every answer an operation can give (issue 12, defect 11).

One job. drf-spectacular documents the success response of each operation; this adds the
error answers every API view can give, with their body: `{"detail": ..., "code": ...}` from
api/errors.py, or DRF's `{"field": ["message"]}` for invalid input. Schemathesis
(tests/fuzz/) checks that no answer falls outside the schema.
"""
from drf_spectacular.openapi import AutoSchema

ERROR_BODY = {
    "type": "object",
    "description": '{"detail": reason, "code": short code}; for invalid input, {"field": ["reason", ...]}.',
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS = {
    "400": "The request is invalid; the body says why.",
    "401": "Authentication credentials were not provided or are wrong.",
    "403": "Not signed in, or the user lacks the permission this operation needs.",
    "404": "No such object (or page).",
    "409": "The object is not in a state that allows this operation; the body says why.",
    "410": "The link was used up or withdrawn.",
    "422": "The input is well formed but cannot be used (e.g. no face found in the image).",
    "429": "Too many wrong passwords from this address: locked for a while.",
}


class DocumentedErrorsSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            responses.setdefault(
                code, {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}}
            )
        return responses
