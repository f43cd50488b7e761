from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from ratings_site import converters  # noqa: F401  (registers <secret:...>)

from . import views

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"), name="redoc"),
    path("studies/from-images/", views.StudyFromImages.as_view(), name="study-from-images"),
    path("studies/", views.StudyList.as_view(), name="study-list"),
    path("studies/<int:pk>/", views.StudyDetail.as_view(), name="study-detail"),
    path("studies/<int:pk>/launch/", views.StudyLaunch.as_view(), name="study-launch"),
    path("studies/<int:pk>/pause/", views.StudyPause.as_view(), name="study-pause"),
    path("studies/<int:pk>/batches/", views.StudyBatches.as_view(), name="study-batches"),
    path("studies/<int:pk>/adaptive/", views.StudyAdaptive.as_view(), name="study-adaptive"),
    path("studies/<int:pk>/exports/", views.StudyExport.as_view(), name="study-export"),
    path("labels/", views.LabelList.as_view(), name="label-list"),
    path("jobs/<int:pk>/", views.JobDetail.as_view(), name="job-detail"),
    path("jobs/<int:pk>/download/", views.JobDownload.as_view(), name="job-download"),
    path("rate/<secret:token>/next/", views.RateNext.as_view(), name="rate-next"),
    path("rate/<secret:token>/ratings/", views.RateSubmit.as_view(), name="rate-submit"),
]
