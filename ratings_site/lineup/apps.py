from django.apps import AppConfig


class LineupConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ratings_site.lineup"
    verbose_name = "Lineup studies (human preference)"
