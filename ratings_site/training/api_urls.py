from django.urls import path

from . import api

app_name = "training_api"
urlpatterns = [
    path("quality/train/", api.QualityTrain.as_view(), name="quality-train"),
    path("quality/versions/", api.QualityVersions.as_view(), name="quality-versions"),
    path("quality/versions/<int:pk>/score-study/", api.QualityScoreStudy.as_view(), name="quality-score-study"),
    path("quality/score/", api.QualityScore.as_view(), name="quality-score"),
    path("legan/train/", api.LeganTrain.as_view(), name="legan-train"),
    path("legan/versions/", api.LeganVersions.as_view(), name="legan-versions"),
    path("legan/evaluate/", api.LeganEvaluate.as_view(), name="legan-evaluate"),
    path("legan/edit/", api.LeganEdit.as_view(), name="legan-edit"),
]
