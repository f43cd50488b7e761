from tests.platform.conftest import _celery_eager, _media_root, ml_staff, researcher  # noqa: F401
