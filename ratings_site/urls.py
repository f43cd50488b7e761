from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.urls import include, path, re_path
from django.views.defaults import page_not_found

from .media import media


def not_found(request, exception=None):
    """API clients get JSON, like every other API error; pages keep Django's 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return page_not_found(request, exception)


handler404 = not_found


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("ratings_site.api.urls")),
    path("api/", include("ratings_site.training.api_urls")),
    path("api/", include("ratings_site.preprocessing.api_urls")),
    path("api/", include("ratings_site.marketplace.api_urls")),
    path("", include("ratings_site.marketplace.urls")),
    path("healthz", healthz),
    path("", include("ratings_site.studies.urls")),
    path("", include("ratings_site.lineup.urls")),
]

if not settings.AWS_STORAGE_BUCKET_NAME:
    # Local media for staff pages (admin thumbnails, exports). Raters never get a media URL:
    # they see images only through the rating view, which enforces the viewing window.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", media)]
