from django.urls import path

from ratings_site import converters  # noqa: F401  (registers <secret:...>)

from . import rater_views

app_name = "rating"
urlpatterns = [
    path("r/<secret:token>/", rater_views.invitation_page, name="invitation"),
    path("rate/<secret:token>/", rater_views.rate_page, name="rate"),
    path("rate/<secret:token>/image/<int:item_id>/", rater_views.rate_image, name="image"),
    path("rate/<secret:token>/done/", rater_views.done_page, name="done"),
    path("examples/<secret:token>/<str:kind>/", rater_views.example_image, name="example"),
]
