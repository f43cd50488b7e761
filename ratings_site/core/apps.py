from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "ratings_site.core"

    def ready(self):
        from .permissions import groups_ensure

        # Every app's post_migrate: permissions of apps listed later exist only by then.
        post_migrate.connect(groups_ensure, dispatch_uid="groups_ensure")
