"""Serving local media to staff, so that no stored file can run as a page of this site.

One job. Files are served with the type their suffix names (suffixes of images come from the
decoded format, catalog/upload_checks.py), `X-Content-Type-Options: nosniff` so the browser
never guesses a type from the content, and a content security policy that forbids scripts,
styles, frames and plugins: even a file that slipped in as HTML could not run a script.
Anything that is not an image, a CSV or plain text is sent as a download.
"""
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.views.static import serve

MEDIA_CSP = "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'self'"
INLINE_TYPES = ("image/", "text/csv", "text/plain", "application/json")


def media_headers_set(response):
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    content_type = response.get("Content-Type", "")
    if content_type.startswith("image/svg") or not content_type.startswith(INLINE_TYPES):
        response["Content-Type"] = "application/octet-stream"
        response["Content-Disposition"] = "attachment"
    return response


@staff_member_required
def media(request, path):
    # MEDIA_ROOT is read per request, not at import (tests change it).
    return media_headers_set(serve(request, path, document_root=settings.MEDIA_ROOT))
