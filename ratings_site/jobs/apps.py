from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "ratings_site.jobs"
    default_auto_field = "django.db.models.BigAutoField"
