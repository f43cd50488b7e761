import pytest

from ratings_site.celery import app as celery_app

from .factories import make_study_with_images  # noqa: F401  (re-exported for tests)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Tasks run inline unless a test starts a real worker (marker `worker`)."""
    if request.node.get_closest_marker("worker"):
        yield
        return
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def researcher(django_user_model):
    from django.contrib.auth.models import Group

    from ratings_site.core.permissions import RESEARCHERS, groups_ensure

    groups_ensure()
    user = django_user_model.objects.create_user("rita", password="pw-rita-123", is_staff=True)
    user.groups.add(Group.objects.get(name=RESEARCHERS))
    return user


@pytest.fixture
def ml_staff(django_user_model):
    from django.contrib.auth.models import Group

    from ratings_site.core.permissions import ML_STAFF, groups_ensure

    groups_ensure()
    user = django_user_model.objects.create_user("mel", password="pw-mel-123", is_staff=True)
    user.groups.add(Group.objects.get(name=ML_STAFF))
    return user
