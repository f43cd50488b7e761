from django.urls import path

from . import rater_views

app_name = "rating"
urlpatterns = [
    path("r/<str:token>/", rater_views.invitation_page, name="invitation"),
    path("rate/<str:token>/", rater_views.rate_page, name="rate"),
    path("rate/<str:token>/image/<int:item_id>/", rater_views.rate_image, name="image"),
    path("rate/<str:token>/done/", rater_views.done_page, name="done"),
    path("examples/<str:token>/<str:kind>/", rater_views.example_image, name="example"),
]
