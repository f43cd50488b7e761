from django.urls import path

from . import rater_views

app_name = "lineup"
urlpatterns = [
    path("lineup/<str:token>/", rater_views.vote_page, name="vote"),
    path("lineup/<str:token>/image/<int:lineup_id>/<str:slot>/", rater_views.lineup_image, name="image"),
    path("lineup/example/<str:token>/<int:example_id>/", rater_views.example_image, name="example"),
    path("lineup/<str:token>/done/", rater_views.done_page, name="done"),
]
