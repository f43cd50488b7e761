from django.urls import path

from ratings_site import converters  # noqa: F401  (registers <secret:...>)

from . import views

app_name = "marketplace"
urlpatterns = [
    path("mturk/<int:study_id>/", views.mturk_entry, name="mturk_entry"),
    path("prolific/<int:study_id>/", views.prolific_entry, name="prolific_entry"),
    path("prolific/complete/<secret:token>/", views.prolific_complete, name="prolific_complete"),
]
